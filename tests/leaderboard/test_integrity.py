"""Only recomputable, comparable numbers are ranked: each hostile case is rejected or kept off the boards,
with its reason in the build report."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from tests.leaderboard.conftest import PUBLISHED, packed, publish, write_layout
from vbench.cli.main import main
from vbench.leaderboard.checks import check_submission
from vbench.leaderboard.schema import Limits


def _build(ds: Path, site: Path, *extra: str) -> dict:
    assert main(["leaderboard", "build", "--from", str(ds), "--out", str(site), "--no-cache", *extra]) == 0
    return json.loads((site / "report.json").read_text())


def _rejected(report: dict) -> dict[str, str]:
    return {item["file"]: " ".join(item["reasons"]) for item in report["rejected"]}


def _boards(site: Path) -> list[dict]:
    return [json.loads((site / b["json"]).read_text()) for b in json.loads((site / "tables" / "index.json").read_text())]


@pytest.fixture(scope="module")
def good(runs):
    return packed(runs["seed0"])


def test_unknown_task_version_with_made_up_numbers_is_rejected(good, tmp_path):
    obj = copy.deepcopy(good)
    obj["results"]["task"]["version"] = "9.9"
    obj["results"]["metrics"]["mean_rating"]["value"] = 6.5
    obj["results"]["metrics"]["pearson_human_rating"]["value"] = 0.99
    checked = check_submission(obj, Limits())
    assert not checked.ok and "unknown task version: aggressiveness_rating v9.9" in checked.reasons[0]
    obj["samples"] = None  # withholding the records does not help
    assert "unknown task version" in check_submission(obj, Limits()).reasons[0]
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(obj))
    assert main(["validate", str(path)]) == 1


@pytest.mark.parametrize("edit", [
    lambda r: r["task"].update(prompt_set_hash="0123456789abcdef"),
    lambda r: r["task"]["options"].update(wording="hostile"),  # another option profile: another prompt set
])
def test_prompt_set_must_be_the_one_the_options_give(good, edit):
    obj = copy.deepcopy(good)
    edit(obj["results"])
    checked = check_submission(obj, Limits())
    assert not checked.ok and "unknown prompt set" in checked.reasons[0], checked.reasons


def test_one_sided_metric_keys_are_differences(good):
    extra = copy.deepcopy(good)
    extra["results"]["metrics"]["made_up"] = {"value": 0.9}
    assert "made_up: submitted but not recomputed" in check_submission(extra, Limits()).reasons[0]
    missing = copy.deepcopy(good)
    del missing["results"]["metrics"]["spearman_human_rating"]
    assert "spearman_human_rating: recomputed but missing" in check_submission(missing, Limits()).reasons[0]


@pytest.fixture(scope="module")
def published(site_runs, tmp_path_factory):
    """A results dataset of runs made on the published datasets, and the build flags to check them."""
    ds = tmp_path_factory.mktemp("published") / "ds"
    return ds, publish(site_runs, ds)


def test_published_runs_are_ranked_with_paper_rows_beside_them(published, tmp_path):
    ds, copies = published
    site = tmp_path / "site"
    report = _build(ds, site, "--include-synthetic", *copies)
    assert not report["rejected"]
    boards = {b["task"]: b for b in _boards(site)}
    agg = boards["aggressiveness_rating"]
    assert agg["ranked"] and agg["scope"] == "published" and agg["sorted_by"] == "pearson_human_rating"
    runs = [r for r in agg["rows"] if r["tier"] != "paper"]
    assert [r["rank"] for r in runs] == [1, 2, 3]
    heads = [r["metrics"]["pearson_human_rating"]["value"] for r in runs]
    assert heads == sorted(heads, reverse=True)
    (paper,) = [r for r in agg["rows"] if r["tier"] == "paper"]
    assert paper["rank"] is None and paper["metrics"]["pearson_human_rating"]["value"] == pytest.approx(0.41)


def test_fingerprint_of_a_published_dataset_must_match(published, tmp_path, site_runs):
    ds, copies = published
    forged = tmp_path / "ds"
    publish(site_runs, forged)
    target = next((forged / "submissions" / "model-a").glob("aggressiveness_rating*.json"))
    obj = json.loads(target.read_text())
    obj["results"]["task"]["dataset_fingerprint"] = "ab" * 8
    target.write_text(json.dumps(obj))
    report = _build(forged, tmp_path / "site", "--include-synthetic", *copies)
    rejected = _rejected(report)
    rel = str(target.relative_to(forged))
    assert set(rejected) == {rel}
    assert f"does not match {PUBLISHED['avatars']}" in rejected[rel]
    # without a copy of the published data (and offline) nothing can be checked, so nothing is ranked
    report = _build(ds, tmp_path / "site2", "--include-synthetic")
    assert report["accepted"] == 0 and all("cannot be checked" in r for r in _rejected(report).values())


def test_other_datasets_are_shown_unranked(dataset_dir, tmp_path):
    report = _build(dataset_dir, tmp_path / "site", "--include-synthetic", "--no-paper")
    assert report["accepted"] == 3 and all(b["scope"] == "other" for b in report["boards"])
    for board in _boards(tmp_path / "site"):
        assert not board["ranked"] and all(r["rank"] is None for r in board["rows"])
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Other datasets (unranked)" in index


def test_synthetic_runs_are_left_out_unless_asked_for(published, tmp_path):
    ds, copies = published
    report = _build(ds, tmp_path / "site", *copies)
    assert report["accepted"] == 11 and len(report["synthetic"]) == 11 and not report["include_synthetic"]
    assert all(any("dummy backend" in r for r in item["reasons"]) for item in report["synthetic"])
    assert all(any("synthetic data" in r for r in item["reasons"]) for item in report["synthetic"]
               if "value_spectrum" not in item["file"])  # synthetic avatars say so in every record
    assert all(b["scope"] == "paper" for b in report["boards"])  # only the papers' numbers are left
    assert "synthetic" in (tmp_path / "site" / "report.md").read_text()
    shown = _build(ds, tmp_path / "site2", "--include-synthetic", *copies)
    rows = [r for b in _boards(tmp_path / "site2") for r in b["rows"] if r["tier"] != "paper"]
    assert len(rows) == shown["accepted"] == 11 and all(r["synthetic"] for r in rows)


def test_differently_scored_runs_never_share_a_board(published, tmp_path, site_runs):
    ds, copies = published
    other = tmp_path / "ds"
    publish(site_runs, other)
    target = next((other / "submissions" / "model-b").glob("aggressiveness_rating*.json"))
    obj = json.loads(target.read_text())
    obj["results"]["model"]["choice_scoring"] = "first-token-logprobs"
    target.write_text(json.dumps(obj))
    _build(other, tmp_path / "site", "--include-synthetic", *copies)
    agg = [b for b in _boards(tmp_path / "site") if b["task"] == "aggressiveness_rating"]
    assert sorted(len([r for r in b["rows"] if r["tier"] != "paper"]) for b in agg) == [1, 2]
    assert {b["choice_scoring"] for b in agg} == {"", "first-token-logprobs"}


def test_withheld_records_are_listed_but_not_ranked(published, tmp_path, site_runs):
    ds, copies = published
    other = tmp_path / "ds"
    publish(site_runs, other)
    target = next((other / "submissions" / "model-c").glob("aggressiveness_rating*.json"))
    obj = json.loads(target.read_text())
    obj["samples"] = None
    target.write_text(json.dumps(obj))
    _build(other, tmp_path / "site", "--include-synthetic", *copies)
    (agg,) = [b for b in _boards(tmp_path / "site") if b["task"] == "aggressiveness_rating"]
    row = next(r for r in agg["rows"] if r["model"] == "model-c")
    assert row["rank"] is None and "withheld" in row["unranked"]
    assert sorted(r["rank"] for r in agg["rows"] if r["rank"]) == [1, 2]


def test_misplaced_and_unreadable_paths_are_reported(dataset_dir, tmp_path, monkeypatch):
    one = next((dataset_dir / "submissions" / "dummy").glob("*.json"))
    deep = dataset_dir / "submissions" / "dummy" / "nested" / "deeper.json"
    deep.parent.mkdir()
    deep.write_bytes(one.read_bytes())
    (dataset_dir / "submissions" / "top.json").write_bytes(one.read_bytes())
    locked = dataset_dir / "submissions" / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path):  # tests run as root, where chmod cannot make a folder unreadable
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    rejected = _rejected(_build(dataset_dir, tmp_path / "site", "--include-synthetic"))
    assert "not at submissions/<model>/<file>.json" in rejected["submissions/dummy/nested/deeper.json"]
    assert "not at submissions/<model>/<file>.json" in rejected["submissions/top.json"]
    assert "cannot be read (Permission denied)" in rejected["submissions/locked"]


def test_eval_marks_dummy_and_synthetic_data(runs):
    res = json.loads((runs["seed0"] / "results.json").read_text())
    assert any("dummy backend" in r for r in res["synthetic"])
    assert any("synthetic data" in r for r in res["synthetic"])


def test_random_weight_tiny_models_carry_their_marker(tiny_llava, tmp_path, avatars):
    from vbench.leaderboard.synthetic import dataset_reasons, model_reasons
    from vbench.results import ModelSpec

    spec = ModelSpec(name="hf", backend="hf", model_id=str(tiny_llava), fingerprint="ab" * 8,
                     model_args={"pretrained": str(tiny_llava)})
    assert "random-weight tiny model" in model_reasons(spec, look_at_files=True)[0]
    assert model_reasons(spec, look_at_files=False) == []  # the leaderboard never reads the submitter's disk
    plain = tmp_path / "real-model"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps({"model_type": "llava"}))
    assert model_reasons(spec.model_copy(update={"model_args": {"pretrained": str(plain)}}), True) == []
    assert dataset_reasons(str(avatars)) and dataset_reasons(str(plain)) == []


def test_synthetic_isq_corpus_is_recognised(tmp_path):
    from vbench.leaderboard.synthetic import dataset_reasons
    from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus

    corpus = build_synthetic_corpus(tmp_path / "corpus", n_per_value=2, dim=4, seed=0)
    assert "synthetic corpus" in dataset_reasons(str(corpus))[0]


def test_relabelled_copy_is_caught_with_records_withheld_and_names_the_earlier_original(dataset_dir, runs, tmp_path):
    copy_ = packed(runs["seed0"])
    copy_["samples"] = None  # only the record hashes: still the same run
    copy_["results"]["model"]["model_id"] = "famous-model"
    copy_["packed_at"] = "2999-01-01T00:00:00+00:00"  # packed after the original, though first by path
    write_layout(dataset_dir, copy_, "submissions/aaa-first-by-path/aggressiveness_rating__1.0__ffff.json")
    rejected = _rejected(_build(dataset_dir, tmp_path / "site", "--include-synthetic"))
    assert list(rejected) == ["submissions/aaa-first-by-path/aggressiveness_rating__1.0__ffff.json"]
    assert "relabelled copy of submissions/dummy/" in rejected["submissions/aaa-first-by-path/aggressiveness_rating__1.0__ffff.json"]
