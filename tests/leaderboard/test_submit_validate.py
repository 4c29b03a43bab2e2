"""`vbench submit` (folder and Hub PR) and `vbench validate`."""
from __future__ import annotations

import json

import pytest

from vbench.cli.main import main


def test_submit_to_folder_uses_the_documented_layout(tmp_path, runs, capsys):
    ds = tmp_path / "ds"
    assert main(["submit", str(runs["seed0"]), "--to", str(ds)]) == 0
    files = sorted(ds.rglob("*.json"))
    assert len(files) == 1
    rel = files[0].relative_to(ds).parts
    assert rel[0] == "submissions" and rel[1] == "dummy"
    assert rel[2].startswith("aggressiveness_rating__1.0__") and rel[2].endswith(".json")
    sub = json.loads(files[0].read_text())
    assert sub["format"] == "vbench-submission"
    assert len(sub["sample_hashes"]) == len(sub["samples"]) == sub["results"]["counts"]["n_episodes"]
    # submitting the same run again leaves the file untouched
    before = files[0].read_bytes()
    assert main(["submit", str(runs["seed0"]), "--to", str(ds)]) == 0
    assert "already present" in capsys.readouterr().out
    assert files[0].read_bytes() == before


def test_submit_whole_output_folder_and_dry_run(tmp_path, runs, capsys):
    out_root = runs["seed0"].parent.parent  # --output_path of the run
    assert main(["submit", str(out_root), "--to", str(tmp_path / "ds"), "--dry-run"]) == 0
    assert "dry run: 1 file(s) checked" in capsys.readouterr().out
    assert not (tmp_path / "ds").exists()


def test_submit_without_samples_keeps_hashes(tmp_path, runs):
    ds = tmp_path / "ds"
    assert main(["submit", str(runs["seed0"]), "--to", str(ds), "--no-samples"]) == 0
    sub = json.loads(next(ds.rglob("*.json")).read_text())
    assert sub["samples"] is None and len(sub["sample_hashes"]) == sub["results"]["counts"]["n_episodes"]


def test_submit_refuses_a_run_changed_after_the_fact(tmp_path, runs, copy_run, run_cli):
    run = copy_run(runs["seed0"])
    lines = (run / "samples.jsonl").read_text().splitlines()
    (run / "samples.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    proc = run_cli("submit", str(run), "--to", str(tmp_path / "ds"))
    assert proc.returncode == 2
    assert "does not match its results.json" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ds").exists()


def test_submit_to_hub_opens_a_pull_request(monkeypatch, runs, capsys):
    import huggingface_hub

    calls = []

    def fake_create_commit(self, repo_id, operations, **kwargs):
        calls.append((repo_id, [op.path_in_repo for op in operations], kwargs))
        return type("Info", (), {"pr_url": f"https://huggingface.co/datasets/{repo_id}/discussions/1"})()

    monkeypatch.setattr(huggingface_hub.HfApi, "create_commit", fake_create_commit)
    assert main(["submit", str(runs["seed0"]), "--to", "some-org/vbench-results"]) == 0
    (repo_id, paths, kwargs), = calls
    assert repo_id == "some-org/vbench-results"
    assert kwargs["create_pr"] is True and kwargs["repo_type"] == "dataset"
    assert len(paths) == 1 and paths[0].startswith("submissions/dummy/aggressiveness_rating__1.0__")
    assert "discussions/1" in capsys.readouterr().out


def test_validate_run_folder_results_and_submission(tmp_path, runs, dataset_dir, capsys):
    sub_file = next(dataset_dir.rglob("*.json"))
    assert main(["validate", str(runs["seed0"]), str(runs["seed0"] / "results.json"), str(sub_file)]) == 0
    out = capsys.readouterr().out
    assert out.count("valid ") == 3 and "metrics recomputed" in out


def test_validate_reports_tampered_metrics(tmp_path, runs, copy_run, capsys):
    run = copy_run(runs["seed0"])
    res = json.loads((run / "results.json").read_text())
    res["metrics"]["mean_expected_rating"]["value"] += 1
    (run / "results.json").write_text(json.dumps(res))
    assert main(["validate", str(run)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err and "metrics disagree" in err
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_validate_results_without_samples_checks_schema_only(tmp_path, runs, copy_run, capsys):
    run = copy_run(runs["seed0"])
    (run / "samples.jsonl").unlink()
    assert main(["validate", str(run / "results.json")]) == 0
    assert "metrics not recomputed" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["results", "submission", "verification"])
def test_print_schema(which, capsys):
    assert main(["validate", "--print-schema", which]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and "properties" in schema


def test_destination_paths_cannot_leave_the_folder(tmp_path, runs, run_cli):
    from vbench.errors import UsageError
    from vbench.leaderboard.store import FolderDestination, inside, is_hub_id

    with pytest.raises(UsageError, match="leaves"):
        inside(tmp_path, "../escape.json")
    with pytest.raises(UsageError, match="leaves"):
        FolderDestination(tmp_path / "ds").put({"submissions/../../x.json": b"{}"}, "m")
    assert not (tmp_path / "x.json").exists()
    assert is_hub_id("org/name") and not is_hub_id("./org/name") and not is_hub_id("../x/y")
    (tmp_path / "afile").write_text("x")
    proc = run_cli("submit", str(runs["seed0"]), "--to", str(tmp_path / "afile"))
    assert proc.returncode == 2 and "is a file" in proc.stderr
