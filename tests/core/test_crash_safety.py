"""A run killed with SIGKILL halfway and re-run equals an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vbench.data.synthetic import build_synthetic_avatars

ROOT = Path(__file__).resolve().parents[2]


def _cmd(model, data, out, cache):
    return [sys.executable, "-m", "vbench", "eval", "--model", "hf", "--model_args", f"pretrained={model},device=cpu",
            "--tasks", "aggressiveness_rating", "--dataset", str(data), "--output_path", str(out),
            "--cache-dir", str(cache), "--batch_size", "1", "--quiet"]


def _samples(out) -> bytes:
    return next(Path(out).glob("*/aggressiveness_rating/samples.jsonl")).read_bytes()


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tiny_llava, tmp_path):
    data = build_synthetic_avatars(tmp_path / "data", n=40, seed=3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full = subprocess.run(_cmd(tiny_llava, data, tmp_path / "A", tmp_path / "cA"), env=env, capture_output=True,
                          text=True, timeout=300)
    assert full.returncode == 0, full.stderr

    proc = subprocess.Popen(_cmd(tiny_llava, data, tmp_path / "B", tmp_path / "cB"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    lines = 0
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "B").glob("*/aggressiveness_rating/samples.jsonl"))
        lines = found[0].read_bytes().count(b"\n") if found else 0
        if lines >= 15:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not list((tmp_path / "B").glob("*/aggressiveness_rating/results.json"))  # no half result

    resumed = subprocess.run(_cmd(tiny_llava, data, tmp_path / "B", tmp_path / "cB"), env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    res_a = json.loads(next((tmp_path / "A").glob("*/*/results.json")).read_text())
    res_b = json.loads(next((tmp_path / "B").glob("*/*/results.json")).read_text())
    assert res_b["metrics"] == res_a["metrics"]
    assert res_b["counts"]["n_ok"] == res_a["counts"]["n_ok"] == 40
    assert _samples(tmp_path / "B") == _samples(tmp_path / "A")  # byte for byte: cache hits leave no trace
    assert res_b["samples_sha256"] == res_a["samples_sha256"]
    assert res_b["counts"]["model_calls"] == res_a["counts"]["model_calls"]  # both invocations counted
