"""The README's example blocks as tests read them: one parser, so every "runs as written" test agrees on
what a command line is (continuations joined, comments and blank lines dropped, shell quoting)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_section(heading: str) -> str:
    """The README from ``heading`` (its exact text, e.g. "## Quickstart") to the next "## " heading."""
    text = README.read_text(encoding="utf-8")
    if heading not in text:
        raise AssertionError(f"README has no heading {heading!r}")
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def readme_block(heading: str, lang: str = "bash") -> str:
    """The first ```lang block of that section."""
    found = re.search(rf"```{lang}\n(.*?)```", readme_section(heading), re.S)
    if found is None:
        raise AssertionError(f"README section {heading!r} has no {lang} block")
    return found.group(1)


def command_lines(block: str) -> list[str]:
    """A bash block's commands, one string each."""
    lines = [line.split("#", 1)[0].strip() for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line]


def readme_commands(heading: str) -> list[list[str]]:
    """The first bash block of that section, as argv lists."""
    return [shlex.split(line) for line in command_lines(readme_block(heading))]
