"""isq_induction on a tiny random LLaVA (transformers runner, real log-prob choices), run exactly as the
README's isq_induction quickstart block says (with the session's tiny model instead of `vbench demo`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme import readme_commands
from vbench.types import Record

ROOT = Path(__file__).resolve().parents[2]


def test_readme_quickstart_on_a_tiny_vlm(tiny_llava, tmp_path):
    pytest.importorskip("transformers")
    commands = readme_commands("### `isq_induction`")
    assert commands[0][:2] == ["vbench", "demo"]  # builds demo/tiny-llava; the session fixture stands in
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "tiny-llava").symlink_to(tiny_llava, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VBENCH_CACHE": str(tmp_path / "cache")}
    for cmd in commands[1:]:
        argv = [sys.executable, *cmd[1:]] if cmd[0] == "python" else [sys.executable, "-m", "vbench", *cmd[1:]]
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-2000:]}"
    (results,) = tmp_path.glob("demo/results/*/isq_induction/results.json")
    res = json.loads(results.read_text())
    c = res["counts"]
    assert c["n_ok"] == 3 and c["n_error"] == 0
    assert c["scheduler_steps"] == 4 and c["model_calls"] == 4 * (1 + 1 + 6)
    assert set(res["artifacts"]) == {"isq_curves.png", "isq_curves.csv"}
    records = [Record.model_validate_json(line) for line in (results.parent / "samples.jsonl").read_text().splitlines()]
    for r in records:
        assert all(t.method == "logprobs" and abs(sum(t.probs.values()) - 1) < 1e-6 for t in r.turns)
        scores = r.outputs["scores"]
        if r.sample["strategy"] == "isq":
            assert all(100 * 4 / 60 - 1e-9 <= s <= 100 + 1e-9 for s in scores)
            assert r.outputs["watched"] == [int(s > 60) for s in scores]
        else:
            assert all(0 <= s <= 1 for s in scores) and r.outputs["watched"] == [int(s > 0.5) for s in scores]
    assert "vbench results" in proc.stdout and "isq I_avg" in proc.stdout
