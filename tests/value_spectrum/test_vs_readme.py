"""The value_spectrum offline walkthrough in the README runs as written (so it cannot rot)."""
from __future__ import annotations

import json
from pathlib import Path

from tests.readme import readme_commands
from vbench.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_readme_walkthrough_runs(tmp_path, monkeypatch, isolated_cache):
    commands = readme_commands("### `value_spectrum`")
    assert [c[:3] for c in commands][1:4] == [["vbench", "data", "synthetic-screenshots"],
                                               ["vbench", "data", "build-corpus"], ["vbench", "data", "build-split"]]
    monkeypatch.chdir(tmp_path)
    for cmd in commands:
        assert cmd[0] == "vbench"
        assert main([*cmd[1:], "--quiet"] if cmd[1] == "eval" else cmd[1:]) == 0, cmd
    (res_path,) = tmp_path.glob("demo/results/*/value_spectrum/results.json")
    res = json.loads(res_path.read_text())
    assert res["counts"]["n_ok"] == 40 and res["counts"]["n_error"] == 0
    assert len(res["metrics"]["preference_p_yes"]["values"]) == 10
    assert (res_path.parent / "radar.png").exists() and (tmp_path / "demo/corpus/abundance.png").exists()
