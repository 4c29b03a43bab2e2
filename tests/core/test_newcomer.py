"""A newcomer's first commands: --version, a misplaced --model, eval --help, `vbench ls`."""
from __future__ import annotations

import re

import pytest

from vbench.cli.main import main
from vbench.registry import TASKS
from vbench.version import __version__


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        from vbench.cli.main import build_parser

        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"vbench {__version__}"
    assert main(["--version"]) == 0


def test_options_without_a_command_suggest_eval(capsys):
    assert main(["--model", "hf", "--model_args", "pretrained=x", "--tasks", "aggressiveness_rating"]) == 2
    err = capsys.readouterr().err
    assert "vbench eval --model hf" in err and len(err.strip().splitlines()) == 1


def test_eval_help_has_no_dead_links_and_real_role_names(capsys):
    assert main(["eval", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "docs/tasks" not in text
    example = re.search(r"a model for one task role(.*?)--backend NAME", text).group(1)
    named = set(re.findall(r"(\w+)=[\w-]+", example)) - {"model"}
    roles = {role for entry in TASKS.entries() for role in entry.load().roles}
    assert named == {"player_a", "player_b", "judge"} and named <= roles


def test_ls_tasks_shows_dataset_roles_and_options(capsys):
    assert main(["ls", "tasks"]) == 0
    out = capsys.readouterr().out
    assert "vbench-personas/avatars" in out and "player_a, player_b, judge" in out
    assert "scoring='both'" in out and "images_per_level=5" in out


def test_ls_models_says_what_each_needs(capsys):
    assert main(["ls", "models"]) == 0
    rows = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.count("│") > 3}
    assert "CUDA GPU" in rows["vllm"] and "[vllm]" in rows["qwen-vl"]
    assert "$OPENAI_API_KEY" in rows["gpt-4o"] and "[api]" in rows["claude-sonnet"]
    assert "[hf]" in rows["hf"] and "nothing" in rows["dummy"]
