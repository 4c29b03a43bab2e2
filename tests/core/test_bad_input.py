"""Bad input gives one line and exit 2 at load, before any output exists; bad images can be skipped."""
from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from vbench.cli.main import main


def _eval(data, out, *extra: str) -> list[str]:
    return ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(data),
            "--output_path", str(out), "--quiet", *extra]


def _one_line(capsys, argv, code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metadata.jsonl").read_text().splitlines()]


def _write_rows(path: Path, rows: list[dict]) -> None:
    (path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def data(avatars, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(avatars, copy)
    return copy


@pytest.mark.parametrize("escape", ["../secret.png", "ABSOLUTE"])
def test_image_path_escaping_the_dataset_is_refused(data, tmp_path, capsys, isolated_cache, escape):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    rows = _rows(data)
    rows[2]["file_name"] = str(secret) if escape == "ABSOLUTE" else escape
    _write_rows(data, rows)
    err = _one_line(capsys, _eval(data, tmp_path / "out"))
    assert "outside the dataset folder" in err and "row 3" in err
    assert not (tmp_path / "out").exists()


def _truncated_jpeg(path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buf, format="JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _bomb_png(path: Path, side: int = 30000) -> None:
    """A valid PNG header announcing side×side pixels (tiny file; PIL refuses it at open)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("damage", ["truncated_jpeg", "bomb"])
def test_undecodable_images_are_one_line_or_skipped(data, tmp_path, capsys, isolated_cache, damage):
    rows = _rows(data)
    bad = data / ("broken.jpg" if damage == "truncated_jpeg" else "huge.png")
    (_truncated_jpeg if damage == "truncated_jpeg" else _bomb_png)(bad)
    rows[4]["file_name"] = bad.name
    _write_rows(data, rows)
    err = _one_line(capsys, _eval(data, tmp_path / "out"))
    assert bad.name in err and "--skip_bad_samples" in err
    assert ("too large" in err) if damage == "bomb" else ("corrupt" in err)
    assert not (tmp_path / "out").exists()
    assert main(_eval(data, tmp_path / "out", "--skip_bad_samples")) == 0
    res = json.loads(next((tmp_path / "out").glob("*/aggressiveness_rating/results.json")).read_text())
    assert res["counts"]["n_ok"] == 11 and [s["sample"] for s in res["skipped_samples"]] == [bad.name]


@pytest.mark.parametrize("value, problem", [("very angry", "not a number"), (float("nan"), "not a number"),
                                            (99, "outside 1–7"), (-5, "outside 1–7")])
def test_out_of_range_columns_name_file_row_and_column(data, tmp_path, capsys, isolated_cache, value, problem):
    rows = _rows(data)
    rows[6]["human_rating"] = value
    _write_rows(data, rows)
    err = _one_line(capsys, _eval(data, tmp_path / "out"))
    assert f"{data / 'metadata.jsonl'} row 7, column 'human_rating'" in err and problem in err
    assert not (tmp_path / "out").exists()


def test_factor_columns_must_be_flags(data, tmp_path, capsys, isolated_cache):
    rows = _rows(data)
    rows[0]["weapon"] = "sword"
    _write_rows(data, rows)
    assert "row 1, column 'weapon'" in _one_line(capsys, _eval(data, tmp_path / "out"))


def test_plain_image_folder_and_file_name_only_metadata_work(data, tmp_path, isolated_cache):
    only_names = tmp_path / "names"
    shutil.copytree(data, only_names)
    _write_rows(only_names, [{"file_name": r["file_name"]} for r in _rows(data)])
    plain = tmp_path / "plain"
    shutil.copytree(data, plain)
    (plain / "metadata.jsonl").unlink()
    for folder in (only_names, plain):
        assert main(_eval(folder, tmp_path / f"out-{folder.name}")) == 0
        res = json.loads(next((tmp_path / f"out-{folder.name}").glob("*/*/results.json")).read_text())
        assert res["counts"]["n_ok"] == 12


def test_mistyped_local_paths_fail_fast_with_a_suggestion(tmp_path, capsys, isolated_cache, monkeypatch):
    (tmp_path / "demo" / "tiny-llava").mkdir(parents=True)
    (tmp_path / "demo" / "avatars").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    err = _one_line(capsys, ["eval", "--model", "hf", "--model_args", "pretrained=demo/tiny-lava", "--tasks",
                             "aggressiveness_rating", "--dataset", "demo/avatars", "--output_path", "out"])
    assert "no such folder: demo/tiny-lava (did you mean demo/tiny-llava?)" in err
    err = _one_line(capsys, ["eval", "--model", "hf", "--model_args", "pretrained=demo/tiny-llava", "--tasks",
                             "aggressiveness_rating", "--dataset", "demo/avatars", "--output_path", "out"])
    assert "demo/tiny-llava is not a model folder: it has no config.json" in err  # empty: not loaded, exit 2
    err = _one_line(capsys, _eval("demo/avatarz", "out"))
    assert "no such folder: demo/avatarz (did you mean demo/avatars?)" in err
    assert not (tmp_path / "out").exists()


def test_unreachable_hub_is_one_line(tmp_path, capsys, isolated_cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    monkeypatch.chdir(tmp_path)
    err = _one_line(capsys, ["eval", "--model", "hf", "--model_args", "pretrained=no-such-org/no-such-vlm",
                             "--tasks", "aggressiveness_rating", "--output_path", "out"])
    assert "no-such-org/no-such-vlm" in err and "cannot reach the Hugging Face Hub" in err
    err = _one_line(capsys, _eval("no-such-org/no-such-data", "out"))
    assert "no-such-org/no-such-data" in err and "cannot reach the Hugging Face Hub" in err
    from vbench.data.sources import check_hub_repo

    check_hub_repo.cache_clear()
    err = _one_line(capsys, ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--output_path", "out"])
    assert "vbench-personas/avatars" in err and "Hub unreachable" in err and "synthetic-avatars" in err  # how to build it
    assert not (tmp_path / "out").exists()


def test_missing_cuda_device_is_one_line(avatars, tmp_path, capsys, isolated_cache, tiny_llava):
    torch = pytest.importorskip("torch")
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    err = _one_line(capsys, ["eval", "--model", "hf", "--model_args", f"pretrained={tiny_llava},device=cuda:{n + 98}",
                             "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
                             "--output_path", str(tmp_path / "out")])
    assert f"device=cuda:{n + 98}" in err
    assert "is not a device" in _one_line(capsys, ["eval", "--model", "hf", "--model_args",
                                                   f"pretrained={tiny_llava},device=gpu", "--tasks",
                                                   "aggressiveness_rating", "--dataset", str(avatars)])


def test_parquet_image_paths_outside_its_folder_are_refused(tmp_path, capsys, isolated_cache):
    import pandas as pd

    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    (tmp_path / "ds").mkdir()
    inside = tmp_path / "ds" / "ok.png"
    Image.new("RGB", (8, 8)).save(inside)
    rows = [{"bytes": None, "path": str(inside)}, {"bytes": None, "path": str(secret)}]
    pd.DataFrame({"image": rows}).to_parquet(tmp_path / "ds" / "data.parquet")
    err = _one_line(capsys, _eval(tmp_path / "ds" / "data.parquet", tmp_path / "out"))
    assert "row 2" in err and "outside the dataset folder" in err


def test_a_model_folder_that_does_not_load_is_a_usage_error(data, tiny_llava, tmp_path, capsys, isolated_cache):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_llava, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    err = _one_line(capsys, ["eval", "--model", "hf", "--model_args", f"pretrained={broken}", "--tasks",
                             "aggressiveness_rating", "--dataset", str(data), "--output_path",
                             str(tmp_path / "out"), "--quiet"])
    assert "cannot load model" in err
    assert not (tmp_path / "out").exists()
