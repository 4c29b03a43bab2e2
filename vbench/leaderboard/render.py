"""The static site: index, one page per board, charts, tables and the build report.

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
from vbench.leaderboard import charts, tables, views
from vbench.leaderboard.board import Board, Row
from vbench.version import __version__

MARKER = ".vbench-site"
MAX_RADARS, MAX_BARS, MAX_MODEL_CHARTS = 24, 30, 12
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#3b6ea8"/><rect x="3" y="8" width="2" height="5" fill="#fff"/><rect x="7" y="5" width="2" '
           'height="8" fill="#fff"/><rect x="11" y="3" width="2" height="10" fill="#fff"/></svg>\n')


def check_out_dir(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier vbench site (never delete a user's files)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UsageError(f"--out {out}: exists and is not a vbench site; choose a new or empty folder")


def _board_charts(board: Board) -> list[dict[str, str]]:
    """(file name, title, svg) of every chart the board's metrics support."""
    out: list[dict[str, str]] = []
    bid = board.board_id

    def add(kind: str, title: str, svg: str) -> None:
        out.append({"file": f"{bid}-{len(out):03d}-{kind}.svg", "title": title, "svg": svg, "kind": kind})

    profiles = [(r, views.value_profile(r.metrics)) for r in board.rows]
    profiles = [(r, p) for r, p in profiles if p]
    if profiles:
        keys = [k for k, _, _ in views.SCHWARTZ if all(k in p for _, p in profiles)]
        if len(profiles) > 1 and keys:
            means = [views.Point(views.VALUE_LABELS[k], sum(p[k] for _, p in profiles) / len(profiles)) for k in keys]
            add("values-mean", "Mean preference per value across models", charts.bars(means, "Mean preference per value "
                                                                                      "across models", (0.0, 1.0)))
        for row, prof in profiles[:MAX_RADARS]:
            labels = [abbr for key, _, abbr in views.SCHWARTZ if key in prof]
            add("radar", f"Value spectrum: {row.model}",
                charts.radar(labels, [prof[k] for k, _, _ in views.SCHWARTZ if k in prof], row.model))
    corr = [(r, views.human_correlation(r.metrics)) for r in board.rows]
    corr = [views.Point(r.model, p.value, p.lo, p.hi) for r, p in corr if p][:MAX_BARS]
    if corr:
        add("human-r", "Correlation with human aggressiveness ratings (Pearson r, 95% CI)",
            charts.bars(corr, "Correlation with human ratings (Pearson r)", (-1.0, 1.0)))
    for kind, fn, label in (("kiss-up", lambda r: views.kiss_up_coefficients(board.key.task, r.metrics),
                             '"Kiss up, kick down": offer coefficients'),
                            ("isq-gain", lambda r: views.isq_gains(r.leaves), "ISQ gains (I_avg)")):
        for row in board.rows[:MAX_MODEL_CHARTS]:
            points = fn(row)
            if points:
                add(kind, f"{label}: {row.model}", charts.bars(points, f"{label}: {row.model}"))
    return out


def _cells(board: Board, row: Row) -> list[dict[str, Any]]:
    leaves = row.leaves
    cells = []
    for col in board.columns:
        leaf = leaves.get(col)
        v = views.scalar(leaf)
        lo, hi = views.interval(leaf)
        cells.append({"v": "" if v is None else f"{v:.8g}", "text": tables.fmt(v),
                      "ci": f"[{tables.fmt(lo, 2)}, {tables.fmt(hi, 2)}]" if lo is not None and hi is not None else ""})
    return cells


def _env() -> Environment:
    return Environment(loader=PackageLoader("vbench.leaderboard", "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                       lstrip_blocks=True)


def write_site(boards: list[Board], report: Any, out: Path, title: str) -> None:
    out = out.expanduser().resolve()
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _render(boards, report, tmp, title)
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
    for sub in ("boards", "charts", "tables", "assets"):
        (site / sub).mkdir(parents=True, exist_ok=True)
    (site / MARKER).write_text("vbench leaderboard site; `vbench leaderboard build` may replace this folder\n")
    static = resources.files("vbench.leaderboard").joinpath("templates")
    for name in ("leaderboard.js", "style.css"):
        (site / "assets" / name).write_text(static.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    (site / "assets" / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    env = _env()
    common = {"title": title, "version": __version__,
              "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "report": report.as_dict()}
    board_page = env.get_template("board.html")
    summaries = []
    for board in boards:
        bid = board.board_id
        chart_list = _board_charts(board)
        for c in chart_list:
            (site / "charts" / c["file"]).write_text(c["svg"], encoding="utf-8")
        for ext, text in (("md", tables.board_markdown(board)), ("csv", tables.board_csv(board)),
                          ("json", tables.board_json(board))):
            (site / "tables" / f"{bid}.{ext}").write_text(text, encoding="utf-8")
        rows = [{"row": r, "cells": _cells(board, r)} for r in board.rows]
        (site / "boards" / f"{bid}.html").write_text(
            board_page.render(root="../", board=board, rows=rows, charts=chart_list, **common), encoding="utf-8")
        tiers = {t: sum(r.tier == t for r in board.rows) for t in ("paper", "verified", "self-reported")}
        summaries.append({"board": board, "tiers": tiers,
                          "datasets": sorted({r.dataset for r in board.rows if r.dataset})[:3]})
    (site / "index.html").write_text(env.get_template("index.html").render(root="", boards=summaries, **common),
                                     encoding="utf-8")
    (site / "report.html").write_text(env.get_template("report.html").render(root="", **common), encoding="utf-8")
    (site / "report.json").write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    (site / "report.md").write_text(report_markdown(report.as_dict()), encoding="utf-8")
    index = [{"board": b.board_id, "task": b.key.task, "version": b.key.version, "title": b.title,
              "rows": len(b.rows), "json": f"tables/{b.board_id}.json"} for b in boards]
    (site / "tables" / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")


def report_markdown(report: dict[str, Any]) -> str:
    md = tables._md
    lines = ["# Leaderboard build report", "",
             f"Source `{md(report['source'])}` · vbench {md(report['vbench_version'])} · "
             f"{report['accepted']} accepted ({report['verified']} verified) · {len(report['rejected'])} rejected", "",
             "## Rejected", ""]
    if not report["rejected"]:
        lines.append("None.")
    for item in report["rejected"]:
        lines.append(f"- `{md(item['file'])}`: " + "; ".join(md(r) for r in item["reasons"]))
    lines += ["", "## Boards", "", "| board | task | version | prompt set | dataset | rows |", "|---|---|---|---|---|---|"]
    for b in report["boards"]:
        lines.append(f"| {md(b['board'])} | {md(b['task'])} | {md(b['version'])} | {md(b['prompt_set_hash'])} "
                     f"| {md(b['dataset_fingerprint'])} | {b['rows']} |")
    return "\n".join(lines) + "\n"
