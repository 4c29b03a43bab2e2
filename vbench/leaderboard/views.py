"""What the leaderboard reads out of a metrics block: the columns a task declares (vbench.tasks.display).

A metric is a ``MetricValue`` dict (``value``, ``ci_low``, ``ci_high``, ``n``), an OLS coefficient
(``{"b", "ci_low", "ci_high"}`` inside ``block.coef``) or a bare number. Nothing here knows a task:
a task without a ``display.yaml`` gets its own summary rows (``Task.summary_rows``) as columns.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, NamedTuple

from vbench.tasks.display import Alternative, MetricDisplay, TaskDisplay, expand, load_display

MAX_DEPTH = 4


class Point(NamedTuple):
    label: str
    value: float
    lo: float | None = None
    hi: float | None = None


class Cell(NamedTuple):
    value: float | None
    lo: float | None
    hi: float | None
    n: int | None
    key: str | None  # the key the value came from (None: absent)
    label: str


def _num(x: Any) -> float | None:
    """A finite float, or None (booleans, text, NaN and infinities are not numbers to show)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def scalar(v: Any) -> float | None:
    """The number a cell shows: MetricValue → value, OLS coefficient → b, number → itself."""
    if isinstance(v, dict):
        if "value" in v:
            return _num(v["value"])
        if "b" in v:
            return _num(v["b"])
        return None
    return _num(v)


def interval(v: Any) -> tuple[float | None, float | None]:
    return (_num(v.get("ci_low")), _num(v.get("ci_high"))) if isinstance(v, dict) else (None, None)


def lookup(metrics: Any, path: str) -> Any:
    """The leaf at a dotted path (None when any step is missing)."""
    obj = metrics
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def resolve(metrics: dict[str, Any], candidates: Iterable[Alternative]) -> Cell:
    """The first candidate key holding a number."""
    first_label = ""
    for alt in candidates:
        first_label = first_label or alt.label
        leaf = lookup(metrics, alt.key)
        value = scalar(leaf)
        if value is not None:
            n = leaf.get("n") if isinstance(leaf, dict) else None
            return Cell(value, *interval(leaf), n if isinstance(n, int) and not isinstance(n, bool) else None,
                        alt.key, alt.label)
    return Cell(None, None, None, None, None, first_label)


def display_for(task: str) -> TaskDisplay | None:
    try:
        return load_display(task)
    except Exception:  # a broken declaration must not break the build: the generic view is used
        return None


def generic_columns(task: str, metrics: dict[str, Any]) -> list[MetricDisplay]:
    """A task with no display declaration: its own summary rows, labelled as it labels them."""
    from vbench.registry import TASKS

    rows: list[tuple[str, Any]] = []
    if task in TASKS:
        try:
            rows = [(str(k), v) for k, v in TASKS.get(TASKS.resolve(task)).summary_rows(metrics)]
        except Exception:  # a task's display hook must not break the build
            rows = []
    paths = {id(leaf): path for path, leaf in walk(metrics)}
    cols = []
    for label, leaf in rows:
        path = paths.get(id(leaf))
        if path is not None and scalar(leaf) is not None:
            cols.append(MetricDisplay(key=path, label=label[:60], direction="none"))
    if not cols:
        cols = [MetricDisplay(key=p, label=p[-60:], direction="none") for p, leaf in walk(metrics)[:12]]
    return cols


def walk(metrics: Any, depth: int = MAX_DEPTH) -> list[tuple[str, Any]]:
    """(dotted path, leaf) for every MetricValue, float and OLS coefficient, depth-limited."""
    stack: list[tuple[str, Any, int]] = [("", metrics, 0)]
    out: list[tuple[str, Any]] = []
    while stack:
        path, obj, d = stack.pop(0)
        if not isinstance(obj, dict):
            if path and _num(obj) is not None and not isinstance(obj, int):  # counts are not columns
                out.append((path, obj))
            continue
        if path and "value" in obj:
            out.append((path, obj))
            continue
        if isinstance(obj.get("coef"), dict):
            out.extend((f"{path}.coef.{name}", c) for name, c in obj["coef"].items()
                       if name != "const" and isinstance(c, dict) and "b" in c)
            continue
        if d >= depth:
            continue
        stack.extend((f"{path}.{k}" if path else str(k), v, d + 1) for k, v in obj.items()
                     if str(k) != "extra" and not str(k).startswith("n_"))
    return out


def chart_points(metrics: dict[str, Any], keys: list[Alternative]) -> list[Point]:
    """One point per declared key that holds a number (templates expanded over the Schwartz values)."""
    points = []
    for alt in keys:
        for col in expand(MetricDisplay(key=alt.key, label=alt.label)):
            cell = resolve(metrics, col.candidates())
            if cell.value is not None:
                points.append(Point(col.label, cell.value, cell.lo, cell.hi))
    return points


def first_profile(metrics: dict[str, Any], keys: list[Alternative]) -> list[Point]:
    """The first key template (in declaration order) that gives values: radar and per-value bars."""
    for alt in keys:
        points = chart_points(metrics, [alt])
        if len(points) >= 3:
            return points
    return []


def fmt(value: float | None, spec: str = ".3f") -> str:
    if value is None:
        return ""
    try:
        text = format(value, spec)
    except ValueError:
        text = f"{value:.3f}"
    if text.lstrip("+-").strip("0.%") == "":  # -0.00 / +0.00: a zero has no sign
        text = text.lstrip("+-")
    return text
