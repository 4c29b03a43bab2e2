"""The static site: the model x task overview, one page per board and per model, charts, tables, the report.

HTML comes from Jinja2 templates with autoescaping on, under a Content-Security-Policy that allows
only the site's own script file (no inline script can run even if some text slipped through). The
site is built in a temporary folder and swapped in, so a failed build never leaves half a site.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from vbench.errors import UsageError
from vbench.leaderboard import tables
from vbench.leaderboard.board import Board, Row
from vbench.leaderboard.figures import board_charts
from vbench.leaderboard.overview import build_overview, cell_view, model_pages
from vbench.leaderboard.space import write_space_files
from vbench.version import __version__

MARKER = ".vbench-site"
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#3b6ea8"/><rect x="3" y="8" width="2" height="5" fill="#fff"/><rect x="7" y="5" width="2" '
           'height="8" fill="#fff"/><rect x="11" y="3" width="2" height="10" fill="#fff"/></svg>\n')


def check_out_dir(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier vbench site (never delete a user's files)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UsageError(f"--out {out}: exists and is not a vbench site; choose a new or empty folder")


def _cells(board: Board, row: Row) -> list[dict[str, Any]]:
    return [cell_view(row, c) for c in board.columns]


def _groups(columns: list) -> list[dict[str, Any]]:
    """Consecutive columns with the same group share one header cell."""
    out: list[dict[str, Any]] = []
    for col in columns:
        if out and out[-1]["name"] == col.group:
            out[-1]["span"] += 1
        else:
            out.append({"name": col.group, "span": 1})
    return out


def _env() -> Environment:
    return Environment(loader=PackageLoader("vbench.leaderboard", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                       lstrip_blocks=True)


def write_site(boards: list[Board], report: Any, out: Path, title: str, space: bool = False) -> None:
    out = out.expanduser().resolve()
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _render(boards, report, tmp, title)
        if space:
            write_space_files(tmp, title, report)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _render(boards: list[Board], report: Any, site: Path, title: str) -> None:
    for sub in ("boards", "charts", "tables", "assets", "models"):
        (site / sub).mkdir(parents=True, exist_ok=True)
    (site / MARKER).write_text("vbench leaderboard site; `vbench leaderboard build` may replace this folder\n")
    static = resources.files("vbench.leaderboard").joinpath("templates")
    for name in ("leaderboard.js", "style.css"):
        (site / "assets" / name).write_text(static.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    (site / "assets" / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    env = _env()
    common = {"title": title, "version": __version__,
              "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "report": report.as_dict()}
    pages = model_pages(boards)
    slugs = {(p["model"], p["paper"]): slug for slug, p in pages.items()}
    board_page = env.get_template("board.html")
    chart_lists: dict[str, list[dict[str, Any]]] = {}
    for board in boards:
        bid = board.board_id
        chart_list = board_charts(board)
        chart_lists[bid] = chart_list
        for c in chart_list:
            (site / "charts" / c["file"]).write_text(c["svg"], encoding="utf-8")
        for ext, text in (("md", tables.board_markdown(board)), ("csv", tables.board_csv(board)),
                          ("json", tables.board_json(board))):
            (site / "tables" / f"{bid}.{ext}").write_text(text, encoding="utf-8")
        rows = [{"row": r, "cells": _cells(board, r), "slug": slugs[(r.model, r.tier == "paper")]} for r in board.rows]
        (site / "boards" / f"{bid}.html").write_text(
            board_page.render(root="../", board=board, rows=rows, groups=_groups(board.columns),
                              charts=[c for c in chart_list if c["model"] is None]
                              + [c for c in chart_list if c["model"] is not None], **common), encoding="utf-8")
    model_page = env.get_template("model.html")
    for slug, page in pages.items():
        charts_of = [c for item in page["items"] for c in chart_lists[item["board"].board_id]
                     if c["model"] == page["model"] or c["model"] is None]
        (site / "models" / f"{slug}.html").write_text(
            model_page.render(root="../", page=page, charts=charts_of, **common), encoding="utf-8")
    columns, overview = build_overview(boards)
    ranked = [b for b in boards if b.key.scope != "other"]
    other = [b for b in boards if b.key.scope == "other"]
    (site / "index.html").write_text(env.get_template("index.html").render(
        root="", columns=columns, overview=overview, ranked=ranked, other=other, cell_view=cell_view, **common),
        encoding="utf-8")
    (site / "report.html").write_text(env.get_template("report.html").render(root="", **common), encoding="utf-8")
    (site / "report.json").write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    (site / "report.md").write_text(report_markdown(report.as_dict()), encoding="utf-8")
    index = [{"board": b.board_id, "task": b.key.task, "version": b.key.version, "scope": b.key.scope,
              "ranked": b.ranked, "title": b.title, "rows": len(b.rows), "json": f"tables/{b.board_id}.json"}
             for b in boards]
    (site / "tables" / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")


def report_markdown(report: dict[str, Any]) -> str:
    md = tables._md
    lines = ["# Leaderboard build report", "",
             f"Source `{md(report['source'])}` · vbench {md(report['vbench_version'])} · "
             f"{report['accepted']} accepted ({report['verified']} verified) · {len(report['rejected'])} rejected · "
             f"{len(report['synthetic'])} synthetic", "", "## Rejected", ""]
    if not report["rejected"]:
        lines.append("None.")
    for item in report["rejected"]:
        lines.append(f"- `{md(item['file'])}`: " + "; ".join(md(r) for r in item["reasons"]))
    shown = "shown, marked synthetic" if report["include_synthetic"] else "kept off the boards"
    lines += ["", f"## Synthetic runs ({shown})", ""]
    lines += [f"- `{md(item['file'])}`: " + "; ".join(md(r) for r in item["reasons"]) for item in report["synthetic"]]
    lines += ["", "## Boards", "", "| board | task | version | scope | prompt set | dataset | choice scoring | rows |",
              "|---|---|---|---|---|---|---|---|"]
    for b in report["boards"]:
        lines.append(f"| {md(b['board'])} | {md(b['task'])} | {md(b['version'])} | {md(b['scope'])} "
                     f"| {md(b['prompt_set_hash'])} | {md(b['dataset_fingerprint'])} | {md(b['choice_scoring'])} "
                     f"| {b['rows']} |")
    return "\n".join(lines) + "\n"
