"""The model x task overview and the per-model pages: one row per model, one column per task headline.

Each task's column comes from its main board: the ranked board (a published dataset) with the most
ranked runs, or, when no run has been accepted yet, the papers' numbers. A model's cell is its best
ranked row on that board; paper rows get a row of their own (tier ``paper``), never a rank.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from vbench.leaderboard import views
from vbench.leaderboard.board import Board, Row
from vbench.leaderboard.schema import safe_slug
from vbench.tasks.display import MetricDisplay

TIER_ORDER = {"verified": 0, "self-reported": 1, "paper": 2}


def model_slug(model: str, paper: bool) -> str:
    digest = hashlib.sha256(f"{model}\x1f{paper}".encode()).hexdigest()[:8]
    return f"{safe_slug(model, 60)}{'-paper' if paper else ''}-{digest}"


@dataclass
class Column:
    task: str
    short: str
    metric: MetricDisplay
    board: Board
    first_of_task: bool = False
    span: int = 1


@dataclass
class OverviewRow:
    model: str
    paper: bool
    slug: str
    rows: dict[str, Row] = field(default_factory=dict)  # task -> the row shown

    @property
    def tier(self) -> str:
        if self.paper:
            return "paper"
        return min((r.tier for r in self.rows.values()), key=lambda t: TIER_ORDER.get(t, 9), default="self-reported")

    @property
    def synthetic(self) -> bool:
        return any(r.synthetic for r in self.rows.values())


def main_boards(boards: list[Board]) -> dict[str, Board]:
    """task -> the board its overview column reads."""
    out: dict[str, Board] = {}
    for board in boards:
        if board.key.scope == "other" or board.display is None:
            continue
        score = (board.ranked, sum(r.rank is not None for r in board.rows), len(board.rows))
        best = out.get(board.key.task)
        if best is None or score > (best.ranked, sum(r.rank is not None for r in best.rows), len(best.rows)):
            out[board.key.task] = board
    return out


def build_overview(boards: list[Board]) -> tuple[list[Column], list[OverviewRow]]:
    from vbench.registry import TASKS

    mains = main_boards(boards)
    order = [e.name for e in TASKS.entries()]
    tasks = sorted(mains, key=lambda t: (order.index(t) if t in order else len(order), t))
    columns: list[Column] = []
    rows: dict[tuple[str, bool], OverviewRow] = {}
    for task in tasks:
        board = mains[task]
        display = board.display
        assert display is not None  # main_boards keeps only boards with a display declaration
        heads = [h for h in display.headline if any(r.cell(h).value is not None for r in board.rows)]
        for i, head in enumerate(heads):
            columns.append(Column(task, display.short, head, board, first_of_task=i == 0,
                                  span=len(heads) if i == 0 else 0))
        for row in board.rows:
            paper = row.tier == "paper"
            key = (row.model, paper)
            entry = rows.setdefault(key, OverviewRow(row.model, paper, model_slug(row.model, paper)))
            current = entry.rows.get(task)
            if current is None or _better(row, current):
                entry.rows[task] = row
    ordered = sorted(rows.values(), key=lambda r: (r.paper, *_first_rank(r, columns), r.model.lower()))
    return columns, ordered


def _better(a: Row, b: Row) -> bool:
    return (a.rank is None, a.rank or 0) < (b.rank is None, b.rank or 0)


def _first_rank(row: OverviewRow, columns: list[Column]) -> tuple[bool, float]:
    """By the first column, descending (as its header says), rows without a value last."""
    first = None
    if columns and columns[0].task in row.rows:
        first = row.rows[columns[0].task].cell(columns[0].metric).value
    return (first is None, -(first or 0.0))


def model_pages(boards: list[Board]) -> dict[str, dict[str, Any]]:
    """slug -> {model, paper, rows: [(board, row)]} for every model with a row anywhere."""
    pages: dict[str, dict[str, Any]] = {}
    for board in boards:
        for row in board.rows:
            paper = row.tier == "paper"
            slug = model_slug(row.model, paper)
            page = pages.setdefault(slug, {"model": row.model, "paper": paper, "slug": slug, "items": []})
            page["items"].append({"board": board, "row": row,
                                  "cells": [cell_view(row, c) for c in board.columns]})
    return pages


def cell_view(row: Row, col: MetricDisplay) -> dict[str, Any]:
    cell = row.cell(col)
    ci = ""
    if cell.lo is not None and cell.hi is not None:
        ci = f"[{views.fmt(cell.lo, col.format)}, {views.fmt(cell.hi, col.format)}]"
    title = f"{cell.label}" + (f" ({col.unit})" if col.unit else "") + (f", n = {cell.n}" if cell.n is not None else "")
    if cell.key and cell.key != col.key:
        title += f"; from {cell.key}"
    return {"v": "" if cell.value is None else f"{cell.value:.8g}", "text": views.fmt(cell.value, col.format),
            "ci": ci, "title": title, "label": col.label, "group": col.group}
