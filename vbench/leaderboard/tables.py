"""Per-board tables as Markdown, CSV and JSON: the same rows the HTML page shows.

Untrusted text is neutralised for each format: Markdown cells are HTML-escaped with pipes and line
breaks removed, CSV text cells that a spreadsheet would run as a formula get a leading quote.
"""
from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from vbench.leaderboard import views
from vbench.leaderboard.board import Board, Row

META = ("model", "tier", "recomputed", "n_episodes", "error_rate", "parse_failure_rate", "seed", "date", "source")


def _cell_values(board: Board, row: Row) -> dict[str, Any]:
    return {c: row.leaves.get(c) for c in board.columns}


def row_dict(board: Board, row: Row) -> dict[str, Any]:
    metrics = {}
    for col, leaf in _cell_values(board, row).items():
        lo, hi = views.interval(leaf)
        metrics[col] = {"value": views.scalar(leaf), "ci_low": lo, "ci_high": hi}
    return {"model": row.model, "model_id": row.model_id, "revision": row.revision, "tier": row.tier,
            "recomputed": row.recomputed, "n_episodes": row.n_episodes, "error_rate": row.error_rate,
            "parse_failure_rate": row.parse_failure_rate, "seed": row.seed, "date": row.date,
            "dataset": row.dataset, "source": row.source, "sha256": row.sha256, "citation": row.citation,
            "verification": row.verification, "notes": row.notes, "metrics": metrics}


def board_json(board: Board) -> str:
    doc = {"board": board.board_id, "task": board.key.task, "version": board.key.version,
           "prompt_set_hash": board.key.prompt_set_hash, "dataset_fingerprint": board.key.dataset_fingerprint,
           "title": board.title, "citation": board.citation, "note": board.note, "sorted_by": board.headline,
           "columns": board.columns, "rows": [row_dict(board, r) for r in board.rows]}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def _formula_safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def board_csv(board: Board) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*META, *(_formula_safe(c) for c in board.columns)])
    for row in board.rows:
        d = row_dict(board, row)
        writer.writerow([_formula_safe(d[k]) if d[k] is not None else "" for k in META]
                        + ["" if d["metrics"][c]["value"] is None else repr(d["metrics"][c]["value"])
                           for c in board.columns])
    return buf.getvalue()


def _md(text: Any) -> str:
    return html.escape(" ".join(str(text).split())).replace("|", "\\|")


def fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def board_markdown(board: Board) -> str:
    head = ["#", "model", "tier", *board.columns]
    lines = [f"## {_md(board.title)}", "",
             f"task `{_md(board.key.task)}` · version `{_md(board.key.version)}` · prompt set "
             f"`{_md(board.key.prompt_set_hash)}` · dataset `{_md(board.key.dataset_fingerprint)}`", ""]
    if board.citation:
        lines += [f"Source: {_md(board.citation)}", ""]
    lines += ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    for i, row in enumerate(board.rows, 1):
        cells = _cell_values(board, row)
        lines.append("| " + " | ".join([str(i), _md(row.model), row.tier]
                                       + [fmt(views.scalar(cells[c])) for c in board.columns]) + " |")
    return "\n".join(lines) + "\n"
