"""Push/pull with cards against local folders (the Hub layout), and the offline/default-dataset errors."""
from __future__ import annotations

import os

import pytest

from vbench.data.hub import is_local, pull_dataset, push_dataset
from vbench.data.loading import load_rows
from vbench.errors import UsageError, VbenchError


def test_push_to_a_folder_writes_the_hub_layout_and_card(built_avatars, tmp_path, small):
    target = tmp_path / "hub" / "avatars"
    push_dataset(built_avatars, str(target))
    shards = sorted((target / "data").glob("train-*.parquet"))
    assert [p.name for p in shards] == ["train-00000-of-00001.parquet"]
    from huggingface_hub import DatasetCard

    card = DatasetCard((target / "README.md").read_text())
    assert card.data.license == "creativeml-openrail-m" and "image-classification" in card.data.task_categories
    assert card.data.size_categories == ["n<1K"]
    assert card.data.dataset_info["splits"][0]["num_examples"] == small["n"]
    assert card.data.configs[0]["data_files"][0]["path"] == "data/train-*"
    assert {"name": "image", "dtype": "image"} in card.data.dataset_info["features"]
    ds, src = load_rows(str(target)), load_rows(str(built_avatars))
    assert len(ds) == small["n"] and ds["prompt"] == src["prompt"] and ds["seed"] == src["seed"]
    assert ds[0]["image"]["bytes"] == (built_avatars / "images" / "avatar-00000.png").read_bytes()  # embedded


def test_pull_from_a_folder_and_repush_replaces_atomically(built_avatars, tmp_path):
    pushed = tmp_path / "pushed"
    push_dataset(built_avatars, str(pushed), license="cc-by-4.0")
    out = pull_dataset(str(pushed), tmp_path / "pulled")
    assert len(load_rows(str(out))) == len(load_rows(str(built_avatars)))
    assert "license: cc-by-4.0" in (out / "README.md").read_text()
    push_dataset(built_avatars, f"file://{pushed}")                  # a second push replaces the first
    assert "license: creativeml-openrail-m" in (pushed / "README.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind


def test_targets_and_errors(tmp_path, monkeypatch, built_avatars):
    assert not is_local("org/name") and is_local("./org/name") and is_local("/abs/x") and is_local("a/b/c")
    with pytest.raises(UsageError, match="nothing to push"):
        push_dataset(tmp_path / "missing", str(tmp_path / "t"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not an earlier push"):
        push_dataset(built_avatars, str(tmp_path / "mine"))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError, match="default dataset 'vbench-personas/avatars' is not available.*build-avatars"):
        pull_dataset("avatars", tmp_path / "p")
    assert not (tmp_path / "p").exists()
    with pytest.raises(VbenchError, match="cannot push to the Hub repo 'someone/avatars'.*--repo ./FOLDER"):
        push_dataset(built_avatars, "someone/avatars")


def test_default_dataset_missing_gives_build_hint_through_eval(run_cli):
    res = run_cli("eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--quiet",
                  env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = res.stderr.strip()
    assert "\n" not in line and "vbench-personas/avatars" in line and "vbench data build-avatars" in line
    assert "--dataset" in line


@pytest.mark.skipif(not (os.environ.get("VBENCH_TEST_HUB_REPO") and os.environ.get("HF_TOKEN")),
                    reason="needs network, HF_TOKEN and VBENCH_TEST_HUB_REPO=ORG/NAME (a scratch dataset repo)")
def test_push_and_pull_through_the_real_hub(built_avatars, tmp_path, run_cli):
    online = {"HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
    repo = os.environ["VBENCH_TEST_HUB_REPO"]
    res = run_cli("data", "push", str(built_avatars), "--repo", repo, "--private", env=online)
    assert res.returncode == 0, res.stderr
    res = run_cli("data", "pull", repo, "--out", str(tmp_path / "pulled"), env=online)
    assert res.returncode == 0, res.stderr
    assert len(load_rows(str(tmp_path / "pulled"))) == len(load_rows(str(built_avatars)))
