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

META = ("rank", "model", "tier", "recomputed", "n_episodes", "error_rate", "parse_failure_rate", "seed", "date",
        "source")


def row_dict(board: Board, row: Row) -> dict[str, Any]:
    metrics = {}
    for col in board.columns:
        cell = row.cell(col)
        metrics[col.key] = {"value": cell.value, "ci_low": cell.lo, "ci_high": cell.hi, "n": cell.n,
                            "from": cell.key}
    return {"rank": row.rank, "unranked": row.unranked, "synthetic": row.synthetic,
            "model": row.model, "model_id": row.model_id, "revision": row.revision, "tier": row.tier,
            "recomputed": row.recomputed, "n_episodes": row.n_episodes, "error_rate": row.error_rate,
            "parse_failure_rate": row.parse_failure_rate, "seed": row.seed, "date": row.date,
            "dataset": row.dataset, "source": row.source, "sha256": row.sha256, "citation": row.citation,
            "verification": row.verification, "notes": row.notes, "metrics": metrics}


def board_json(board: Board) -> str:
    doc = {"board": board.board_id, "task": board.key.task, "version": board.key.version,
           "scope": board.key.scope, "ranked": board.ranked, "prompt_set_hash": board.key.prompt_set_hash,
           "dataset_fingerprint": board.key.dataset_fingerprint, "choice_scoring": board.key.choice_scoring,
           "title": board.title, "papers": [{"title": p.title, "citation": " ".join(p.citation.split())}
                                            for p in board.papers],
           "sorted_by": board.headline.key if board.headline else None,
           "columns": [{"key": c.key, "label": c.label, "group": c.group, "unit": c.unit, "direction": c.direction}
                       for c in board.columns],
           "rows": [row_dict(board, r) for r in board.rows]}
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def _formula_safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def board_csv(board: Board) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*META, *(_formula_safe(c.key) for c in board.columns)])
    for row in board.rows:
        d = row_dict(board, row)
        writer.writerow([_formula_safe(d[k]) if d[k] is not None else "" for k in META]
                        + ["" if d["metrics"][c.key]["value"] is None else repr(d["metrics"][c.key]["value"])
                           for c in board.columns])
    return buf.getvalue()


def _md(text: Any) -> str:
    return html.escape(" ".join(str(text).split())).replace("|", "\\|")


def board_markdown(board: Board) -> str:
    head = ["#", "model", "tier", *(f"{c.group}: {c.label}" if c.group else c.label for c in board.columns)]
    lines = [f"## {_md(board.title)}", "",
             f"task `{_md(board.key.task)}` · version `{_md(board.key.version)}` · prompt set "
             f"`{_md(board.key.prompt_set_hash)}` · dataset `{_md(board.key.dataset_fingerprint)}`"
             + ("" if board.ranked else " · unranked"), ""]
    for paper in board.papers:
        lines += [f"Paper rows: {_md(paper.citation)}", ""]
    lines += ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    for row in board.rows:
        lines.append("| " + " | ".join([str(row.rank or "–"), _md(row.model), row.tier]
                                       + [views.fmt(row.cell(c).value, c.format) for c in board.columns]) + " |")
    return "\n".join(lines) + "\n"
