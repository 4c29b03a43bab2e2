"""The charts a board shows, as its task declares them (``charts:`` in the task's display.yaml)."""
from __future__ import annotations

from typing import Any

from vbench.leaderboard import charts, views
from vbench.leaderboard.board import Board, Row
from vbench.leaderboard.views import Point

MAX_RADARS, MAX_GROUPS, MAX_MODEL_CHARTS = 24, 30, 12


def _label(row: Row) -> str:
    return row.model if len(row.model) <= 40 else row.model[:39] + "…"


def board_charts(board: Board) -> list[dict[str, Any]]:
    """(file, title, svg, kind) of every declared chart the board's rows have numbers for."""
    out: list[dict[str, Any]] = []
    if board.display is None:
        return out
    bid = board.board_id

    def add(kind: str, title: str, svg: str, model: str | None = None) -> None:
        out.append({"file": f"{bid}-{len(out):03d}-{kind}.svg", "title": title, "svg": svg, "kind": kind,
                    "model": model})

    rows = board.rows
    for spec in board.display.charts:
        if spec.kind == "radar":
            for row in rows[:MAX_RADARS]:
                pts = views.first_profile(row.metrics, spec.keys)
                if pts:
                    add("radar", f"{spec.title}: {row.model}",
                        charts.radar([p.label for p in pts], [p.value for p in pts], _label(row)), row.model)
        elif spec.kind == "value_bars":  # runs only: the papers' profiles are in their radars
            for row in [r for r in rows if r.tier != "paper"][:MAX_MODEL_CHARTS]:
                pts = views.first_profile(row.metrics, spec.keys)
                if pts:
                    add("value-bars", f"{spec.title}: {row.model}",
                        charts.bars(pts, f"{spec.title}: {_label(row)}", spec.domain), row.model)
        elif spec.kind in ("coefficients", "interval_bars"):
            chosen = [r for r in rows if views.chart_points(r.metrics, spec.keys)][:MAX_GROUPS]
            if not chosen:
                continue
            series: list[tuple[str, list[Point | None]]] = []
            for alt in spec.keys:
                firsts = [next(iter(views.chart_points(r.metrics, [alt])), None) for r in chosen]
                if any(p is not None for p in firsts):
                    series.append((alt.label, firsts))
            add("coefficients" if spec.kind == "coefficients" else "intervals", spec.title,
                charts.grouped_bars([_label(r) for r in chosen], series, spec.title, spec.domain,
                                    paper=[r.tier == "paper" for r in chosen]))
        elif spec.kind == "curves":
            for row in rows[:MAX_MODEL_CHARTS]:
                lines: list[tuple[str, list[float | None]]] = []
                x_labels: list[str] = []
                for name, points in spec.series.items():
                    x_labels = x_labels or [p.label for p in points]
                    vals = [views.resolve(row.metrics, [p]).value for p in points]
                    if any(v is not None for v in vals):
                        lines.append((name, vals))
                if lines:
                    add("curves", f"{spec.title}: {row.model}",
                        charts.curves(x_labels, lines, _label(row), spec.domain or (0.0, 1.0)), row.model)
    return out
