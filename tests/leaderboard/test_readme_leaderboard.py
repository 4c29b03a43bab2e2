"""The README's leaderboard commands run as written, offline (submit to a folder, build the site)."""
from __future__ import annotations

import json
from pathlib import Path

from tests.readme import readme_commands

ROOT = Path(__file__).resolve().parents[2]


def test_readme_leaderboard_block_runs(tmp_path, avatars, run_cli):
    import vbench

    vbench.evaluate(model="dummy", tasks=["aggressiveness_rating"], dataset=str(avatars),
                    output_path=tmp_path / "demo" / "results", cache_dir=tmp_path / "cache", show_progress=False)
    commands = readme_commands("## Leaderboard")
    assert [c[:2] for c in commands] == [["vbench", "validate"], ["vbench", "submit"], ["vbench", "leaderboard"]]
    for cmd in commands:
        proc = run_cli(*cmd[1:], cwd=tmp_path)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-2000:]}"
    report = json.loads((tmp_path / "site" / "report.json").read_text())
    assert report["accepted"] == 1 and not report["rejected"] and len(report["synthetic"]) == 1
    assert (tmp_path / "site" / "index.html").exists()
    assert [b["scope"] for b in report["boards"] if b["version"] != "paper"] == ["other"]


def test_readme_documents_hub_submission_and_hosting():
    section = (ROOT / "README.md").read_text().split("## Leaderboard", 1)[1].split("\n## ", 1)[0]
    for needle in ("--to vbench-personas/results", "create_pr=True", "hf upload", "http.server", "verify",
                   "--space", "sdk: static", "other dataset", "--include-synthetic", "display.yaml"):
        assert needle in section
