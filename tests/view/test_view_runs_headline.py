"""The runs list shows each task's declared headline (display.yaml), not whatever metric comes first."""
from __future__ import annotations

from vbench.view.runs import _headline


def test_headline_follows_the_task_declaration_with_its_interval():
    metrics = {"I_avg": {"value": 2.0}, "by_strategy": {"isq": {
        "I_avg": {"value": 1.5}, "alignment_gain_vs_plain": {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9}}}}
    label, text = _headline("isq_induction", metrics)
    assert label == "ISQ alignment gain vs plain" and text == "0.5 [0.1, 0.9]"


def test_headline_falls_back_to_the_declared_alternative():
    metrics = {"pearson_human_expected_rating": {"value": 0.25, "ci_low": 0.0, "ci_high": 0.5}}
    label, text = _headline("aggressiveness_rating", metrics)
    assert text == "0.25 [0, 0.5]" and "expected" in label.lower()


def test_unknown_task_has_no_headline():
    assert _headline("no_such_task", {"x": {"value": 1.0}}) == ("", "")
