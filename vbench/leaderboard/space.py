"""`--space`: the built site as a static Hugging Face Space (README.md front matter, ``sdk: static``).

A static Space serves the repository's files as they are, ``index.html`` first, so the folder is ready
to push with ``hf upload ORG/SPACE DIR . --repo-type space``; nothing runs on the Space.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def space_readme(title: str, report: Any) -> str:
    info = report.as_dict()
    front = {"title": " ".join(title.split())[:60] or "vbench leaderboard", "emoji": "📊", "colorFrom": "blue",
             "colorTo": "gray", "sdk": "static", "app_file": "index.html", "pinned": False,
             "short_description": "Vision-language models: personas and values, recomputed from records"[:60],
             "tags": ["leaderboard", "vbench"]}
    body = (f"# {front['title']}\n\n"
            f"Static leaderboard built by `vbench leaderboard build --space` (vbench {info['vbench_version']}) from "
            f"`{info['source']}`: {info['accepted']} runs accepted ({info['verified']} verified), "
            f"{len(info['rejected'])} files rejected. Every ranked number was recomputed from the run's records by "
            "the task's own code. See `report.md` for what was left out and why.\n")
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def write_space_files(site: Path, title: str, report: Any) -> None:
    (site / "README.md").write_text(space_readme(title, report), encoding="utf-8")
    (site / ".gitattributes").write_text("*.svg text\n*.json text\n", encoding="utf-8")
