"""`vbench leaderboard build --space DIR`: a folder ready to push as a static Hugging Face Space."""
from __future__ import annotations

import json

import yaml

from vbench.cli.main import main


def test_space_folder_has_static_front_matter_and_the_site(tmp_path, dataset_dir, capsys):
    space = tmp_path / "space"
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--space", str(space)]) == 0
    assert "hf upload ORG/SPACE" in capsys.readouterr().out
    readme = (space / "README.md").read_text()
    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front["sdk"] == "static" and front["app_file"] == "index.html" and len(front["title"]) <= 60
    report = json.loads((space / "report.json").read_text())
    assert f"{report['accepted']} runs accepted" in readme
    assert (space / "index.html").is_file() and (space / "assets" / "style.css").is_file()
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--space", str(space)]) == 0  # rebuild in place
    plain = tmp_path / "site"
    assert main(["leaderboard", "build", "--from", str(dataset_dir), "--out", str(plain)]) == 0
    assert not (plain / "README.md").exists()


def test_out_and_space_exclude_each_other(tmp_path, run_cli):
    proc = run_cli("leaderboard", "build", "--from", str(tmp_path), "--out", "a", "--space", "b")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("leaderboard", "build", "--from", str(tmp_path), "--out", "a", "--dataset-copy", "nonsense")
    assert proc.returncode == 2 and "expected HUB_ID=PATH" in proc.stderr
