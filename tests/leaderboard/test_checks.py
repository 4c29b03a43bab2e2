"""Each hostile edit of a real submission is caught with its own reason; honest ones pass."""
from __future__ import annotations

import copy

import pytest

from tests.leaderboard.conftest import packed, reseal
from vbench.leaderboard.checks import check_submission
from vbench.leaderboard.schema import Limits


@pytest.fixture(scope="module")
def good(runs):
    return packed(runs["seed0"])


def test_honest_submission_passes_with_recomputed_metrics(good):
    checked = check_submission(copy.deepcopy(good), Limits())
    assert checked.ok, checked.reasons
    assert checked.recomputed


def _edit(good, fn):
    obj = copy.deepcopy(good)
    fn(obj)
    return check_submission(obj, Limits())


@pytest.mark.parametrize("edit, reason", [
    (lambda o: o["results"]["metrics"]["mean_expected_rating"].update(value=6.5), "metrics disagree"),
    (lambda o: o["results"].update(schema_version="0.9"), "schema_version '0.9' is not supported"),
    (lambda o: o.update(format_version="7"), "format_version"),
    (lambda o: o.update(format="something"), "not a vbench submission"),
    (lambda o: o["results"].update(extra_field=1), "schema: results.extra_field"),
    (lambda o: o["results"]["counts"].update(error_rate=0.5), "error_rate"),
    (lambda o: o["results"]["metrics"]["pearson_human_rating"].update(value=1.7, ci_high=1.8), "outside [-1, 1]"),
    (lambda o: o["results"]["task"].update(name="../../etc"), "task.name"),
    (lambda o: o["results"].update(samples_file="../../secret"), "samples_file"),
    (lambda o: o["samples"][0]["outputs"].update(rating=7), "does not match its sample hash"),
    (lambda o: o["samples"].pop(), "differ in length"),
    (lambda o: o["results"]["run"].update(seed="0"), "schema: results.run.seed"),
])
def test_hostile_edits_are_rejected(good, edit, reason):
    checked = _edit(good, edit)
    assert not checked.ok
    assert any(reason in r for r in checked.reasons), checked.reasons


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_resealed_records_still_need_the_runs_samples_hash(good):
    """Edited records with fresh line hashes and metrics but the run's samples_sha256: caught."""
    obj = copy.deepcopy(good)
    for rec in obj["samples"]:
        rec["outputs"]["expected_rating"] = 7.0
    sealed = reseal(copy.deepcopy(obj))
    sealed["results"]["samples_sha256"] = good["results"]["samples_sha256"]
    checked = check_submission(sealed, Limits())
    assert any("samples_sha256" in r for r in checked.reasons), checked.reasons


def test_withheld_records_are_accepted_without_recompute(good):
    obj = copy.deepcopy(good)
    obj["samples"] = None
    checked = check_submission(obj, Limits())
    assert checked.ok and not checked.recomputed
    assert any("withheld" in n for n in checked.notes)


def test_unknown_task_is_rejected(good):
    obj = copy.deepcopy(good)
    obj["samples"] = None
    obj["results"]["task"]["name"] = "made_up_task"
    checked = check_submission(obj, Limits())
    assert any("unknown task" in r for r in checked.reasons)


def test_record_limit(good):
    checked = check_submission(copy.deepcopy(good), Limits(max_records=3))
    assert any("over the 3 limit" in r for r in checked.reasons)


def test_non_finite_numbers_only_inside_metrics(good):
    obj = copy.deepcopy(good)
    obj["results"]["run"]["duration_s"] = float("inf")
    assert any("non-finite" in r for r in check_submission(obj, Limits()).reasons)
    obj = copy.deepcopy(good)
    obj["samples"] = None  # nothing to recompute against: the submitted NaN stands (shown blank)
    obj["results"]["metrics"]["mean_rating"]["value"] = float("nan")
    assert check_submission(obj, Limits()).ok


def test_overlong_metric_keys_are_rejected(good):
    obj = copy.deepcopy(good)
    obj["samples"] = None
    obj["results"]["metrics"]["k" * 300] = {"value": 1.0}
    assert any("key longer than 200" in r for r in check_submission(obj, Limits()).reasons)
