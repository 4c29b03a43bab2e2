"""The ultimatum section's example runs as written: both tasks on the tiny model via the HF runner, chained
through an aggressiveness_rating run, then re-analysed (offline)."""
from __future__ import annotations

import json
from pathlib import Path

from tests.readme import readme_commands
from vbench.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_ultimatum_readme_example_runs(tmp_path, isolated_cache, monkeypatch, capsys):
    commands = readme_commands("### `ultimatum_solo` and `ultimatum_pair`")
    assert [c[:2] for c in commands][-1] == ["vbench", "analyze"]
    monkeypatch.chdir(tmp_path)
    for cmd in commands:  # in-process (`vbench` = vbench.cli.main.main) to import torch only once
        assert cmd[0] == "vbench"
        code = main(cmd[1:])
        assert code == 0, f"{' '.join(cmd)}\n{capsys.readouterr().err[-2000:]}"
    for task in ("ultimatum_solo", "ultimatum_pair"):
        res = json.loads((tmp_path / "demo/results/demo_tiny-llava" / task / "results.json").read_text())
        assert res["counts"]["n_ok"] > 0 and res["counts"]["n_error"] == 0
    doc = json.loads((tmp_path / "demo/analysis/ultimatum_pair/analysis.json").read_text())
    pair = json.loads((tmp_path / "demo/results/demo_tiny-llava/ultimatum_pair/results.json").read_text())
    assert doc["metrics"] == pair["metrics"]
    assert pair["task"]["options"]["levels_from"].endswith("aggressiveness_rating")
