"""The headline measures persona induction; the pool check; metrics() recomputes from records alone."""
from __future__ import annotations

import json
import logging

import pytest

from vbench.errors import UsageError
from vbench.leaderboard.checks import build_task_for
from vbench.results import RunResults
from vbench.tasks.isq_induction.viewers import VIEWERS, run_viewer

from tests.isq.test_isq_task import run_eval


@pytest.fixture(scope="module")
def calibration(feed_corpus, tmp_path_factory):
    args = {"trials": 6, "scrolls": 20, "n": 10, "platforms": "tiktok,instagram", "strategies": "plain,isq",
            "platform_slice": "off"}
    return {kind: run_viewer(str(feed_corpus), kind, args, str(tmp_path_factory.mktemp("img"))) for kind in VIEWERS}


def test_scripted_viewers_order_the_headline(calibration):
    aligned, random, fixed = (calibration[k]["headline"] for k in VIEWERS)
    assert aligned["ci_low"] > 0 and aligned["value"] > 0.2  # taking on the persona moves the feed toward it
    assert fixed["value"] == 0.0  # a fixed taste moves plain and persona feeds alike
    assert abs(random["value"]) < aligned["value"] / 3
    assert aligned["unit"].startswith("trial") and aligned["n_clusters"] == 6 and aligned["n"] == 12
    assert "seed=0" in aligned["method"]
    # the paper's I_avg rewards any learnable taste: the fixed viewer scores on it, not on the headline
    assert calibration["fixed"]["by_strategy"]["isq"]["I_avg"]["value"] > 0


def test_pool_that_cannot_supply_the_design_is_refused_with_counts(feed_corpus, tmp_path):
    with pytest.raises(UsageError, match=r"cannot supply the design for 7 of 7 personas .*liked of"):
        run_eval(feed_corpus, tmp_path, {"all_personas": True, "scrolls": 60, "n": 30, "platforms": "tiktok"},
                 limit=7)
    with pytest.raises(UsageError, match="for any of the 60 personas"):
        run_eval(feed_corpus, tmp_path, {"scrolls": 120, "n": 60, "platforms": "tiktok"})
    assert not (tmp_path / "out").exists()


def test_marginal_pools_warn_and_impossible_personas_leave_the_draw(feed_corpus, tmp_path, caplog):
    # tiktok slice: ~13 items per value; n=10 leaves out personas whose values have fewer, scrolls=20 is marginal
    with caplog.at_level(logging.WARNING, logger="vbench.isq_induction"):
        res, records, _ = run_eval(feed_corpus, tmp_path, {"platforms": "tiktok", "strategies": "plain", "trials": 3})
    text = caplog.text
    assert "personas left out of the draw" in text and "marginal" in text and "liked of" in text
    supply = res.metrics["design"]["supply"]["tiktok"]
    assert supply["marginal_trials"] == sum(r.sample["liked_items"] < 20 for r in records) > 0
    assert supply["min_liked_items"] == min(r.sample["liked_items"] for r in records) >= 10
    assert res.metrics["design"]["personas_excluded"] > 0
    assert all(r.sample["liked_items"] >= 10 for r in records)


def test_metrics_recompute_from_records_alone(feed_corpus, tmp_path):
    res, records, out = run_eval(feed_corpus, tmp_path, {"platforms": "tiktok,youtube", "trials": 2,
                                                          "platform_slice": "off"})
    saved = json.loads((out / "results.json").read_text())
    task = build_task_for(RunResults.model_validate(saved))  # a fresh task: samples() is never called
    again = json.loads(json.dumps(task.metrics([r for r in records if r.status == "ok"])))
    assert again == saved["metrics"]
    assert set(again["design"]) == set(saved["metrics"]["design"]) and again["design"]["pools"] == {
        "tiktok": "all", "youtube": "all"}
    assert again["headline"]["metric"] == "by_strategy.isq.alignment_gain_vs_plain"
