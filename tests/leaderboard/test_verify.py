"""`vbench leaderboard verify`: re-runs through the scheduler with the submission's spec (dummy backend)."""
from __future__ import annotations

import json

from tests.leaderboard.conftest import packed, reseal, write_layout
from vbench.cli.main import main


def _verify(path, tmp_path, *extra):
    return main(["leaderboard", "verify", str(path), "--n", "5", "--cache-dir", str(tmp_path / "vcache"), *extra])


def test_honest_submission_is_verified_and_shown_as_such(tmp_path, dataset_dir, capsys):
    sub = next((dataset_dir / "submissions" / "dummy").glob("*.json"))
    assert _verify(sub, tmp_path) == 0
    out = capsys.readouterr().out
    assert '"passed": true' in out and '"checked": 5' in out
    records = list((dataset_dir / "verifications").rglob("*.json"))
    assert len(records) == 1 and records[0].parent.name == "dummy"
    ver = json.loads(records[0].read_text())
    assert ver["agreed"] == 5 and ver["model_fingerprint_match"] and len(set(ver["episode_ids"])) == 5
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--out", str(site), "--no-paper",
                 "--include-synthetic"]) == 0
    report = json.loads((site / "report.json").read_text())
    assert report["verified"] == 1 and not report["rejected"]
    tiers = [r["tier"] for f in (site / "tables").glob("aggressiveness*.json") for r in json.loads(f.read_text())["rows"]]
    assert sorted(tiers) == ["self-reported", "self-reported", "verified"]


def test_forged_outputs_pass_static_checks_but_fail_the_rerun(tmp_path, dataset_dir, runs, capsys):
    forged = packed(runs["seed0"])
    for rec in forged["samples"]:  # claim a better model: every rating is the human one
        rec["outputs"]["expected_rating"] = float(rec["sample"]["human_rating"])
    path = write_layout(dataset_dir, reseal(forged), "submissions/forged/aggressiveness_rating__1.0__ffff.json")
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--out", str(site), "--no-paper",
                 "--include-synthetic"]) == 0
    assert json.loads((site / "report.json").read_text())["accepted"] == 4  # self-consistent: accepted
    assert _verify(path, tmp_path) == 1
    ver = json.loads(next((dataset_dir / "verifications" / "dummy").glob("*ffff.json")).read_text())
    assert not ver["passed"] and ver["agreed"] == 0
    assert all("expected_rating" in m["reason"] for m in ver["mismatches"])
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--out", str(site), "--no-paper",
                 "--include-synthetic"]) == 0
    assert json.loads((site / "report.json").read_text())["verified"] == 0  # failed verifications do not count


def test_verify_needs_the_same_dataset(tmp_path, dataset_dir, capsys):
    from vbench.data.synthetic import build_synthetic_avatars

    other = build_synthetic_avatars(tmp_path / "other", n=5, seed=3)
    sub = next((dataset_dir / "submissions" / "dummy").glob("*.json"))
    assert _verify(sub, tmp_path, "--dataset", str(other), "--dry-run") == 2
    assert "is not the submission's" in capsys.readouterr().err
    assert not (dataset_dir / "verifications").exists()


def test_multi_model_runs_are_re_run_with_their_roles(tmp_path, avatars):
    import pytest

    import vbench
    from vbench.registry import TASKS

    if "ultimatum_pair" not in TASKS:
        pytest.skip("ultimatum_pair is not registered in this checkout")
    propose = "I propose $70 for me and $30 for you."
    vbench.evaluate(model="dummy", tasks=["ultimatum_pair"], dataset=str(avatars), repeats=1, limit=3,
                    model_roles={"player_a": ("dummy", f"reply={propose}"), "player_b": ("dummy", "reply=I accept.")},
                    output_path=tmp_path / "out", cache_dir=tmp_path / "cache", show_progress=False)
    ds = tmp_path / "ds"
    assert main(["submit", str(tmp_path / "out"), "--to", str(ds)]) == 0
    (sub,) = ds.rglob("*.json")
    assert sub.parent.name == "dummy__player_a_dummy__player_b_dummy"  # one folder per model combination
    assert _verify(sub, tmp_path) == 0
    ver = json.loads(next((ds / "verifications").rglob("*.json")).read_text())
    assert ver["passed"] and ver["checked"] >= 1 and ver["agreed"] == ver["checked"] and ver["model_fingerprint_match"]
