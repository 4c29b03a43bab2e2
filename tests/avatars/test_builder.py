"""The diffusers builder with a real (tiny, random) Stable Diffusion pipeline: output, resume, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from vbench.data.avatars.builder import BuildSpec, build_avatars, read_rows
from vbench.data.avatars.design import FACTORS
from vbench.data.avatars.pipeline import load_pipeline
from vbench.data.loading import load_rows
from vbench.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_build_writes_an_imagefolder_dataset_with_card(built_avatars, tiny_sd, small):
    ds = load_rows(str(built_avatars))
    assert len(ds) == small["n"]
    for col in ("image", "prompt", "negative_prompt", "seed", "model_id", *FACTORS):
        assert col in ds.column_names
    assert set(ds["model_id"]) == {str(tiny_sd)} and len(set(ds["seed"])) == len(ds)
    assert Image.open(ds[0]["image"]["path"]).size == (small["width"], small["height"])
    from huggingface_hub import DatasetCard

    card = DatasetCard((built_avatars / "README.md").read_text())
    assert card.data.size_categories == ["n<1K"]
    names = [f["name"] for f in card.data.dataset_info["features"]]
    assert {"image", "seed", "weapon"} <= set(names)
    assert f"**{small['n']}** rows" in card.text
    assert json.loads((built_avatars / "build.json").read_text())["template_version"] == "1"


def test_an_image_regenerates_from_its_recorded_prompt_and_seed(built_avatars, tiny_sd):
    row = read_rows(built_avatars)[5]
    pipe = load_pipeline(str(tiny_sd))
    img = pipe([row["prompt"]], [row["negative_prompt"]], [row["seed"]], steps=row["steps"],
               guidance=row["guidance_scale"], height=row["height"], width=row["width"])[0]
    diff = np.abs(np.asarray(img.convert("RGB"), dtype=np.int16) - _pixels(built_avatars / row["file_name"]))
    assert diff.max() <= 2  # same seed → same image (batch composition may move a pixel by a rounding step)


class _Interrupt:
    """The real pipeline, interrupted (Ctrl-C) on a chosen call."""

    def __init__(self, pipe, fail_on_call: int):
        self.pipe, self.fail_on, self.calls = pipe, fail_on_call, 0

    def __call__(self, *a, **kw):
        self.calls += 1
        if self.calls == self.fail_on:
            raise KeyboardInterrupt
        return self.pipe(*a, **kw)


def test_interrupted_build_keeps_finished_images_and_resumes(tmp_path, tiny_sd, built_avatars, small):
    spec = BuildSpec(model_id=str(tiny_sd), **small)
    out = tmp_path / "avatars"
    pipe = _Interrupt(load_pipeline(str(tiny_sd)), fail_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        build_avatars(out, spec, batch_size=4, progress=False, pipeline=pipe)
    kept = read_rows(out)
    assert len(kept) == 4 and all((out / r["file_name"]).is_file() for r in kept)
    with open(out / "metadata.jsonl", "a") as fh:      # a torn line from a hard kill
        fh.write('{"file_name": "images/avatar-0')
    stats = build_avatars(out, spec, batch_size=4, progress=False)
    assert (stats.generated, stats.skipped) == (8, 4)
    resumed, reference = read_rows(out), read_rows(built_avatars)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "file_name"} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(reference)
    for r in resumed:
        assert np.abs(_pixels(out / r["file_name"]) - _pixels(built_avatars / r["file_name"])).max() <= 2
    again = build_avatars(out, spec, batch_size=4, progress=False, pipeline=_Interrupt(None, fail_on_call=1))
    assert (again.generated, again.skipped) == (0, small["n"])  # nothing left: the pipeline is not even called


def test_ctrl_c_on_the_cli_keeps_images_and_says_how_to_resume(tmp_path, tiny_sd):
    out = tmp_path / "avatars"
    cmd = [sys.executable, "-m", "vbench", "data", "build-avatars", "--out", str(out), "--model", str(tiny_sd),
           "--n", "12", "--batch-size", "2", "--height", "64", "--width", "64", "--steps", "2"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "metadata.jsonl").is_file() and len((out / "metadata.jsonl").read_text().splitlines()) >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    kept = read_rows(out)
    if proc.returncode == 0:
        pytest.skip("the build finished before it could be interrupted")
    assert proc.returncode == 130 and "re-run the same command to resume" in err
    assert "avatars:" in err and "img/s" in err          # the tqdm bar with rate/ETA
    assert 2 <= len(kept) < 12 and all((out / r["file_name"]).is_file() for r in kept)
    spec = BuildSpec(model_id=str(tiny_sd), n=12, height=64, width=64, steps=2)
    stats = build_avatars(out, spec, batch_size=8, progress=False)
    assert stats.skipped == len(kept) and len(read_rows(out)) == 12


def test_pipeline_that_cannot_load_is_one_clear_error_and_writes_nothing(tmp_path):
    spec = lambda m: BuildSpec(model_id=m, n=2, height=64, width=64, steps=1)  # noqa: E731
    with pytest.raises(UsageError, match="no such pipeline folder"):
        build_avatars(tmp_path / "a", spec(str(tmp_path / "missing")), progress=False)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "model_index.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot load diffusers pipeline"):
        build_avatars(tmp_path / "b", spec(str(junk)), progress=False)
    with pytest.raises(UsageError, match="cannot load diffusers pipeline 'nobody/no-such-pipeline'"):
        build_avatars(tmp_path / "c", spec("nobody/no-such-pipeline"), progress=False)  # offline in tests
    assert not any((tmp_path / d).exists() for d in "abc")


def test_resume_with_other_settings_or_a_foreign_folder_is_refused(built_avatars, tiny_sd, fresh_copy, tmp_path, small):
    out = fresh_copy(built_avatars)
    before = (out / "metadata.jsonl").read_text()
    with pytest.raises(UsageError, match="built with steps=2, not 3"):
        build_avatars(out, BuildSpec(model_id=str(tiny_sd), **{**small, "steps": 3}), progress=False)
    with pytest.raises(UsageError, match="may only grow"):
        build_avatars(out, BuildSpec(model_id=str(tiny_sd), **{**small, "n": 4}), progress=False)
    assert (out / "metadata.jsonl").read_text() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not an avatar build folder"):
        build_avatars(other, BuildSpec(model_id=str(tiny_sd), **small), progress=False)


def test_cli_build_bad_pipeline_exit_2(run_cli, tmp_path):
    res = run_cli("data", "build-avatars", "--out", str(tmp_path / "o"), "--model", str(tmp_path / "nope"), "--n", "2")
    assert res.returncode == 2 and "no such pipeline folder" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU: checks the default fp16-on-GPU generation path")
def test_fp16_generation_on_gpu(tmp_path, tiny_sd):
    pipe = load_pipeline(str(tiny_sd))                      # device=auto, dtype=auto
    assert pipe.device.startswith("cuda") and pipe.dtype == "float16"
    spec = BuildSpec(model_id=str(tiny_sd), n=4, height=64, width=64, steps=2)
    stats = build_avatars(tmp_path / "gpu", spec, batch_size=4, progress=False, pipeline=pipe)
    assert stats.generated == 4 and len(read_rows(tmp_path / "gpu")) == 4
