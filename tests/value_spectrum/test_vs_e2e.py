"""From a folder of images to a published split to results with a radar chart, through the CLI."""
from __future__ import annotations

import json
import os

import jsonlines
import numpy as np
import pytest

from vbench.cli.main import main
from vbench.data.corpus.store import write_corpus


def _results(out, task="value_spectrum"):
    (path,) = list(out.glob(f"*/{task}/results.json"))
    return json.loads(path.read_text()), path.parent


def test_folder_to_published_split_to_results(tmp_path, shots, tiny_clip, capsys, isolated_cache):
    """(The README walkthrough test runs the same path with the tiny VLM through the hf runner.)"""
    corpus, pub, out = tmp_path / "corpus", tmp_path / "pub", tmp_path / "out"
    assert main(["data", "build-corpus", "--source", str(shots), "--out", str(corpus), "--clip-model", str(tiny_clip),
                 "--batch-size", "16", "--quiet"]) == 0
    io = capsys.readouterr()
    assert "40 items" in io.out and "skipped 2 unreadable image(s)" in io.err
    assert main(["data", "build-split", "--corpus", str(corpus), "--top-k", "1"]) == 0
    assert "40 rows over 10 values" in capsys.readouterr().out  # 40 items, each serving one value
    assert main(["data", "publish-split", "--corpus", str(corpus), "--out", str(pub)]) == 0
    card = (pub / "README.md").read_text()
    assert card.startswith("---\n") and "<!-- vbench:generated -->" in card and "| Hedonism | 4 |" in card
    assert list((pub / "data").glob("*.parquet")) and (pub / "schwartz.yaml").exists()

    assert main(["eval", "--model", "dummy", "--tasks", "value_spectrum", "--dataset", str(pub), "--output_path", str(out), "--limit", "20",
                 "--quiet"]) == 0
    res, run_dir = _results(out)
    assert res["counts"]["n_ok"] == 20 and res["counts"]["model_calls"] == 40
    m = res["metrics"]
    assert len(m["preference_p_yes"]["values"]) == 10  # --limit spreads over the values
    for block in m["preference_p_yes"]["values"].values():
        assert 0 <= block["score"]["value"] <= 1 and block["n"] == 2
    assert set(m["preference_p_yes"]["platforms"]) <= {"tiktok", "youtube", "instagram"}
    assert 0 <= m["parse_rate"]["value"] <= 1
    assert res["artifacts"] == ["radar.png", "values.csv"]
    assert (run_dir / "radar.png").read_bytes()[:4] == b"\x89PNG"
    first = next(iter(jsonlines.open(run_dir / "samples.jsonl")))
    assert first["sample"]["value"] == "Self-direction" and first["sample"]["rank"] == 1
    assert first["episode_id"] == f"Self-direction/{first['sample']['keyword']}/1"


def test_ablation_modes_and_direct_samples_file(tmp_path, built_corpus, capsys, isolated_cache):
    out = tmp_path / "out"
    common = ["--tasks", "value_spectrum", "--dataset", str(built_corpus), "--limit", "30", "--quiet"]
    assert main(["eval", "--model", "dummy", "--model_args", "reply=Yes I like it", "--output_path", str(out / "abl"),
                 "--model-role", "captioner=dummy:reply=a crowded beach", "--model-role", "answerer=dummy:reply=No.",
                 "--task_args", "mode=ablation,scoring=sampled,followups=true", *common]) == 0
    res, run_dir = _results(out / "abl")
    m = res["metrics"]
    assert set(res["roles"]) == {"captioner", "answerer"}
    assert all(b["score"]["value"] == 1.0 for b in m["preference"]["values"].values())
    assert all(b["score"]["value"] == 0.0 for b in m["caption_preference"]["values"].values())
    assert set(m["ablation"]["sampled"]["diff"].values()) == {-1.0}
    assert m["ablation"]["item_agreement"]["value"] == 0.0 and m["ablation"]["direct_source"] == "this run"
    rec = next(iter(jsonlines.open(run_dir / "samples.jsonl")))
    assert rec["outputs"]["caption"] == "a crowded beach" and len(rec["outputs"]["followups"]) == 2
    assert any(t["role"] == "answerer" and "a crowded beach" in t["prompt"] for t in rec["turns"])

    # a direct run saved earlier + a caption-only run that compares against it
    assert main(["eval", "--model", "dummy", "--output_path", str(out / "direct"), "--task_args", "scoring=sampled",
                 *common]) == 0
    direct, direct_dir = _results(out / "direct")
    assert main(["eval", "--model", "dummy", "--model_args", "reply=no", "--output_path", str(out / "cap"),
                 "--task_args", f"mode=caption,scoring=sampled,direct_samples={direct_dir / 'samples.jsonl'}",
                 *common]) == 0
    cap, _ = _results(out / "cap")
    comp = cap["metrics"]["ablation"]["sampled"]
    assert cap["metrics"]["ablation"]["direct_source"].endswith("samples.jsonl")
    for value, d in comp["diff"].items():
        assert d == pytest.approx(0.0 - direct["metrics"]["preference"]["values"][value]["score"]["value"])
    assert "preference" not in cap["metrics"]  # caption mode asks no direct question


def _bad(capsys, args):
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("vbench: error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_input_one_line_exit_2(tmp_path, capsys, avatars, built_corpus, isolated_cache):
    assert "not found" in _bad(capsys, ["data", "build-corpus", "--source", str(tmp_path / "none"),
                                        "--out", str(tmp_path / "c"), "--clip-model", str(tmp_path)])
    (tmp_path / "empty").mkdir()
    assert "no images found" in _bad(capsys, ["data", "build-corpus", "--source", str(tmp_path / "empty"),
                                              "--out", str(tmp_path / "c"), "--clip-model", str(tmp_path)])
    assert not (tmp_path / "c").exists()
    assert "CLIP model not found" in _bad(capsys, ["data", "build-corpus", "--source", str(avatars), "--out",
                                                   str(tmp_path / "c"), "--clip-model", str(tmp_path / "nomodel")])
    assert not (tmp_path / "c").exists()  # nothing written
    assert "not a built corpus" in _bad(capsys, ["data", "build-split", "--corpus", str(tmp_path)])
    write_corpus(tmp_path / "nosplit", [{"id": "a", "image": str(next(avatars.glob("*.png")))}], np.ones((1, 4)),
                 clip_model="x")
    assert "no split yet" in _bad(capsys, ["data", "publish-split", "--corpus", str(tmp_path / "nosplit")])
    out = tmp_path / "out"
    assert "no column 'value'" in _bad(capsys, ["eval", "--model", "dummy", "--tasks", "value_spectrum", "--dataset",
                                                str(avatars), "--output_path", str(out), "--quiet"])
    assert "direct_samples" in _bad(capsys, ["eval", "--model", "dummy", "--tasks", "value_spectrum", "--dataset",
                                             str(built_corpus), "--output_path", str(out), "--quiet", "--task_args",
                                             f"mode=caption,direct_samples={tmp_path / 'missing.jsonl'}"])
    assert "no role 'judge'" in _bad(capsys, ["eval", "--model", "dummy", "--tasks", "value_spectrum", "--dataset",
                                              str(built_corpus), "--output_path", str(out), "--quiet",
                                              "--model-role", "judge=dummy"])
    assert not out.exists()


def test_push_offline_is_one_clear_line(tmp_path, built_corpus, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    err = _bad(capsys, ["data", "publish-split", "--corpus", str(built_corpus), "--out", str(tmp_path / "pub"),
                        "--push-to-hub", "someone/value-spectrum"])
    assert "cannot push to someone/value-spectrum" in err
    assert (tmp_path / "pub" / "README.md").exists()  # the folder is ready to upload by other means


@pytest.mark.skipif(not os.environ.get("VBENCH_HUB_TEST_REPO"),
                    reason="needs network access, a Hub token and VBENCH_HUB_TEST_REPO=ORG/NAME (a scratch dataset repo)")
def test_push_to_hub_live(tmp_path, built_corpus, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    repo = os.environ["VBENCH_HUB_TEST_REPO"]
    assert main(["data", "publish-split", "--corpus", str(built_corpus), "--out", str(tmp_path / "pub"),
                 "--push-to-hub", repo, "--private"]) == 0
    from huggingface_hub import snapshot_download

    from vbench.data.loading import load_rows

    local = snapshot_download(repo, repo_type="dataset", local_dir=tmp_path / "back")
    assert len(load_rows(local)) == len(load_rows(str(tmp_path / "pub")))
