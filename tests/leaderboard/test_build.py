"""`vbench leaderboard build` over honest runs, paper rows and hostile submissions."""
from __future__ import annotations

import copy
import csv
import json
import shutil

import pytest

from tests.leaderboard.conftest import INJECTED, packed, write_layout
from vbench.cli.main import main


@pytest.fixture
def hostile_dataset(dataset_dir, runs):
    """The honest dataset plus one file per kind of attack; returns (folder, expected reason per file)."""
    ds = dataset_dir
    expected = {}
    inj = packed(runs["seed2"])
    inj["results"]["model"]["model_id"] = inj["results"]["model"]["name"] = INJECTED
    inj["results"]["task"]["dataset"] = "</code><script>window.__pwned = 3</script>"
    write_layout(ds, inj)
    tampered = packed(runs["seed1"])
    tampered["results"]["metrics"]["pearson_human_expected_rating"]["value"] = 0.99
    expected[write_layout(ds, tampered, "submissions/tampered/aggressiveness_rating__1.0__aaaa.json")] = "metrics disagree"
    old = packed(runs["subset"])
    old["results"]["schema_version"] = "0.1"
    expected[write_layout(ds, old, "submissions/old/aggressiveness_rating__1.0__bbbb.json")] = "schema_version '0.1'"
    big = copy.deepcopy(packed(runs["seed0"]))
    big["notes"] = "x" * (1_200_000)
    expected[write_layout(ds, big, "submissions/big/aggressiveness_rating__1.0__cccc.json")] = "over the 1,048,576-byte limit"
    garbage = ds / "submissions" / "garbage" / "x.json"
    garbage.parent.mkdir(parents=True)
    garbage.write_text("{not json")
    expected[garbage] = "not valid JSON"
    link = ds / "submissions" / "garbage" / "link.json"
    link.symlink_to(next((ds / "submissions" / "dummy").glob("*.json")))
    expected[link] = "symbolic link"
    dup = ds / "submissions" / "garbage" / "copy.json"
    shutil.copy(next((ds / "submissions" / "dummy").glob("*.json")), dup)
    expected[dup] = "duplicate of"
    relabelled = packed(runs["seed1"])
    relabelled["results"]["model"]["model_id"] = "gpt-5-vision"
    expected[write_layout(ds, relabelled, "submissions/gpt/aggressiveness_rating__1.0__abcd.json")] = \
        "relabelled copy of submissions/dummy/"
    padded = ds / "submissions" / "garbage" / "padded.json"  # same content, other bytes: BOM + indentation
    original = json.loads(next((ds / "submissions" / "dummy").glob("*.json")).read_text())
    padded.write_bytes(b"\xef\xbb\xbf" + json.dumps(original, indent=3).encode())
    expected[padded] = "duplicate of"
    bad_ver = ds / "verifications" / "dummy" / "fake.json"
    bad_ver.parent.mkdir(parents=True)
    bad_ver.write_text(json.dumps({"format": "vbench-verification", "passed": True}))
    expected[bad_ver] = "verification schema"
    return ds, {str(p.relative_to(ds)): r for p, r in expected.items()}


def _build(src, out, *extra):
    """The fixtures' runs use the dummy backend on synthetic data: shown here (marked) to test the rest."""
    return main(["leaderboard", "build", "--from", str(src), "--out", str(out), "--max-file-mb", "1",
                 "--include-synthetic", *extra])


def test_build_accepts_honest_rejects_hostile_with_reasons(tmp_path, hostile_dataset):
    ds, expected = hostile_dataset
    site = tmp_path / "site"
    assert _build(ds, site) == 0
    report = json.loads((site / "report.json").read_text())
    assert report["accepted"] == 4  # seed0, seed1, subset, injected name (shown escaped)
    rejected = {item["file"]: " ".join(item["reasons"]) for item in report["rejected"]}
    assert set(rejected) == set(expected)
    for file, reason in expected.items():
        assert reason in rejected[file], (file, rejected[file])
    md = (site / "report.md").read_text()
    assert all(f in md for f in expected)


def test_boards_group_strictly_and_paper_rows_have_their_own(tmp_path, hostile_dataset):
    ds, _ = hostile_dataset
    site = tmp_path / "site"
    assert _build(ds, site) == 0
    index = json.loads((site / "tables" / "index.json").read_text())
    runs_boards = [b for b in index if b["version"] == "1.0"]
    assert sorted(b["rows"] for b in runs_boards) == [1, 3]  # 6-sample subset is not comparable
    assert all(b["scope"] == "other" and not b["ranked"] for b in runs_boards)  # a local folder: unranked
    paper = {b["task"]: b for b in index if b["version"] == "paper"}
    assert set(paper) == {"value_spectrum", "aggressiveness_rating"}  # no ranked board to sit beside
    vs = json.loads((site / paper["value_spectrum"]["json"]).read_text())
    assert len(vs["rows"]) == 8 and all(r["tier"] == "paper" and r["rank"] is None for r in vs["rows"])
    assert "Value-Spectrum" in vs["papers"][0]["citation"]
    gpt = next(r for r in vs["rows"] if r["model"] == "GPT-4o")
    assert gpt["metrics"]["preference_p_yes.values.Self-direction.score"]["value"] == pytest.approx(0.78)
    assert gpt["metrics"]["preference_p_yes.values.Self-direction.score"]["from"] == \
        "preference.values.Self-direction.score"  # the paper's sampled share, shown under the same column
    assert gpt["metrics"]["preference_p_yes.values.Security.score"]["value"] == pytest.approx(0.78)
    big = json.loads((site / next(b for b in runs_boards if b["rows"] == 3)["json"]).read_text())
    values = [r["metrics"][big["sorted_by"]]["value"] for r in big["rows"]]
    assert big["sorted_by"] == "pearson_human_rating" and values == sorted(values, reverse=True)
    assert all(r["recomputed"] and r["tier"] == "self-reported" and r["rank"] is None for r in big["rows"])


def test_untrusted_text_is_escaped_everywhere(tmp_path, hostile_dataset):
    ds, _ = hostile_dataset
    site = tmp_path / "site"
    assert _build(ds, site) == 0
    for page in list(site.rglob("*.html")) + list(site.rglob("*.svg")) + list(site.rglob("*.md")):
        text = page.read_text()
        assert "<script>window" not in text and "<img src=x" not in text, page
    board = next(p for p in (site / "boards").glob("aggressiveness_rating-v1.0-*.html") if "&lt;script&gt;" in p.read_text())
    assert "Content-Security-Policy" in board.read_text()


def test_csv_neutralises_formulas(tmp_path, runs):
    obj = packed(runs["seed0"])
    obj["results"]["model"]["model_id"] = "=HYPERLINK(\"http://x\")"
    dataset = tmp_path / "formula-dataset"  # alone: beside the original it would be a relabelled copy
    write_layout(dataset, obj)
    site = tmp_path / "site"
    assert _build(dataset, site, "--no-paper") == 0
    rows = [r for f in (site / "tables").glob("*.csv") for r in csv.DictReader(f.open())]
    assert any(r["model"].startswith("'=HYPERLINK") for r in rows)
    assert not any(r["model"].startswith("=") for r in rows)


def test_out_folder_safety(tmp_path, dataset_dir, run_cli):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    proc = run_cli("leaderboard", "build", "--from", str(dataset_dir), "--out", str(precious))
    assert proc.returncode == 2 and "not a vbench site" in proc.stderr
    assert (precious / "thesis.tex").read_text() == "keep me" and len(list(precious.iterdir())) == 1
    site = tmp_path / "site"
    assert _build(dataset_dir, site) == 0
    (site / "stale.txt").write_text("old build")
    assert _build(dataset_dir, site) == 0  # an earlier site is replaced as a whole
    assert not (site / "stale.txt").exists() and (site / "index.html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.")]
    missing = run_cli("leaderboard", "build", "--from", str(tmp_path / "nope"), "--out", str(tmp_path / "s2"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_build_from_hub_downloads_only_the_layout(tmp_path, dataset_dir, monkeypatch):
    import huggingface_hub

    seen = {}

    def fake_snapshot_download(repo_id, **kwargs):
        seen.update(repo_id=repo_id, **kwargs)
        return str(dataset_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--from", "some-org/vbench-results", "--out", str(site),
                 "--include-synthetic"]) == 0
    assert seen["repo_id"] == "some-org/vbench-results" and seen["repo_type"] == "dataset"
    assert all(p.startswith(("submissions/", "verifications/")) for p in seen["allow_patterns"])
    assert json.loads((site / "report.json").read_text())["accepted"] == 3


def test_submitted_intervals_must_match_the_recomputed_ones(tmp_path, runs):
    obj = packed(runs["seed0"])
    obj["results"]["metrics"]["mean_expected_rating"]["ci_high"] = obj["results"]["metrics"]["mean_expected_rating"]["value"]
    ds = tmp_path / "ds"
    write_layout(ds, obj)
    site = tmp_path / "site"
    assert _build(ds, site, "--no-paper") == 0
    (item,) = json.loads((site / "report.json").read_text())["rejected"]
    assert "mean_expected_rating.ci_high: submitted" in item["reasons"][0]


def test_symlinked_model_folder_is_not_followed(tmp_path, dataset_dir):
    outside = tmp_path / "outside"
    (outside / "evil").mkdir(parents=True)
    shutil.copy(next((dataset_dir / "submissions" / "dummy").glob("*.json")), outside / "evil" / "a.json")
    (dataset_dir / "submissions" / "linked").symlink_to(outside / "evil")
    site = tmp_path / "site"
    assert _build(dataset_dir, site, "--no-paper") == 0
    report = json.loads((site / "report.json").read_text())
    assert report["accepted"] == 3
    assert any(r["file"] == "submissions/linked" and "symbolic link" in r["reasons"][0] for r in report["rejected"])


def test_parallel_checking_gives_the_same_boards(tmp_path, hostile_dataset, monkeypatch):
    from vbench.leaderboard import build as build_mod
    from vbench.leaderboard.schema import Limits

    ds, expected = hostile_dataset
    limits = Limits(max_file_bytes=2**20)
    serial_boards, serial = build_mod.collect(str(ds), limits, workers=1)
    monkeypatch.setattr(build_mod, "PARALLEL_THRESHOLD", 0)
    par_boards, par = build_mod.collect(str(ds), limits, workers=2)
    assert [(b.board_id, [r.sha256 for r in b.rows]) for b in par_boards] == \
           [(b.board_id, [r.sha256 for r in b.rows]) for b in serial_boards]
    assert par.rejected == serial.rejected and par.accepted == serial.accepted == 4


def test_rebuild_reuses_verdicts_of_unchanged_files_only(tmp_path, hostile_dataset, monkeypatch):
    from vbench.leaderboard import build as build_mod

    ds, expected = hostile_dataset
    site = tmp_path / "site"
    assert _build(ds, site) == 0
    first = json.loads((site / "report.json").read_text())
    checked = []
    real = build_mod.check_file
    monkeypatch.setattr(build_mod, "check_file", lambda job: checked.append(job[0]) or real(job))
    assert _build(ds, site) == 0
    again = json.loads((site / "report.json").read_text())
    assert (again["accepted"], again["rejected"]) == (first["accepted"], first["rejected"])
    assert set(checked) == {"submissions/big/aggressiveness_rating__1.0__cccc.json",  # oversize: never hashed
                            "submissions/garbage/x.json"}  # unparsable: no verdict kept, cheap to redo
    tampered = ds / "submissions" / "tampered" / "aggressiveness_rating__1.0__aaaa.json"
    obj = json.loads(tampered.read_text())
    obj["results"]["metrics"]["pearson_human_expected_rating"]["value"] = obj["results"]["metrics"][
        "pearson_human_expected_rating"]["value"]  # same numbers, new bytes: checked again
    tampered.write_text(json.dumps(obj, indent=1))
    checked.clear()
    assert _build(ds, site) == 0
    assert "submissions/tampered/aggressiveness_rating__1.0__aaaa.json" in checked
    assert main(["leaderboard", "build", "--from", str(ds), "--out", str(site), "--no-cache"]) == 0
