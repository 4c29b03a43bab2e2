"""What the leaderboard reads out of a metrics block, tolerant of any task's shape.

Tasks write their own metric keys, so nothing here assumes more than the shared conventions: a metric
is a ``MetricValue`` dict (``value``, ``ci_low``, ``ci_high``, ``n``) or a number, OLS blocks are
``{"coef": {name: {"b", "ci_low", "ci_high"}}}`` (vbench.analysis.stats.ols), and Schwartz values are
recognised by name or the paper's abbreviations wherever they are keys.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, NamedTuple

SCHWARTZ: tuple[tuple[str, str, str], ...] = (
    ("self_direction", "Self-direction", "SD"), ("universalism", "Universalism", "UNI"),
    ("benevolence", "Benevolence", "BEN"), ("stimulation", "Stimulation", "STI"), ("power", "Power", "POW"),
    ("achievement", "Achievement", "ACH"), ("hedonism", "Hedonism", "HED"), ("conformity", "Conformity", "CON"),
    ("tradition", "Tradition", "TRA"), ("security", "Security", "SEC"),
)
VALUE_LABELS = {key: label for key, label, _ in SCHWARTZ}
HEADLINES: dict[str, tuple[str, ...]] = {  # default sort column where the task's first summary row is not it
    "aggressiveness_rating": ("pearson_human_rating", "pearson_human_expected_rating"),
    "value_spectrum": ("mean_preference", "preference_p_yes (all)", "preference (all)"),
    "isq_induction": ("isq I_avg", "by_strategy.isq.I_avg"),
}
MAX_DEPTH = 4
SKIP_KEYS = {"extra", "n", "ranking", "design", "dropped"}  # details, not columns


def _norm(text: str) -> str:
    return re.sub(r"[^a-z]", "", str(text).lower())


_VALUE_ALIASES = {_norm(x): key for key, label, abbr in SCHWARTZ for x in (key, label, abbr)}


class Point(NamedTuple):
    label: str
    value: float
    lo: float | None = None
    hi: float | None = None


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


def _is_ols(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("coef"), dict)


def walk(metrics: Any, depth: int = MAX_DEPTH) -> Iterable[tuple[str, Any]]:
    """(dotted path, leaf) for every MetricValue, number and OLS coefficient, depth-limited."""
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
        if _is_ols(obj):
            out.extend((f"{path}.{name}", c) for name, c in obj["coef"].items()
                       if name != "const" and isinstance(c, dict) and "b" in c)
            continue
        if d >= depth:
            continue
        for k, v in obj.items():
            key = str(k)
            if key in SKIP_KEYS or key.startswith("n_") or "distribution" in key or "keyword" in key:
                continue
            stack.append((f"{path}.{key}" if path else key, v, d + 1))
    return out


def columns(metrics: dict[str, Any], summary: Iterable[tuple[str, Any]] = ()) -> dict[str, Any]:
    """Ordered {column: leaf}: the task's own summary rows (its labels) first, then every other leaf."""
    from vbench.leaderboard.schema import display_name

    ordered: dict[str, Any] = {}
    for label, leaf in summary:
        if scalar(leaf) is not None or (isinstance(leaf, dict) and "value" in leaf):
            ordered.setdefault(display_name(label, 100), leaf)
    seen = {id(v) for v in ordered.values()}
    for path, leaf in walk(metrics):
        if id(leaf) not in seen:
            ordered.setdefault(display_name(path, 100), leaf)
    return ordered


def value_profile(metrics: Any) -> dict[str, float] | None:
    """Scores per Schwartz value from the first dict keyed by ≥ 6 of the 10 values (scaled to [0, 1])."""
    stack: list[tuple[Any, int, str]] = [(metrics, 0, "")]
    candidates: list[tuple[int, dict[str, float]]] = []
    while stack:
        obj, d, key = stack.pop(0)
        if not isinstance(obj, dict) or d > MAX_DEPTH:
            continue
        found = {}
        for k, v in obj.items():
            canon = _VALUE_ALIASES.get(_norm(k))
            score = _value_score(v)
            if canon and score is not None:
                found[canon] = score
        if len(found) >= 6:
            k = key.lower()
            rank = 2 if any(w in k for w in ("std", "rank", "diff", "delta", "count", "abundance")) else \
                0 if any(w in k for w in ("pref", "score", "mean", "yes", "value")) else 1
            candidates.append((rank, found))
        stack.extend((v, d + 1, str(k)) for k, v in obj.items() if isinstance(v, dict) and k != "extra")
    if not candidates:
        return None
    found = min(candidates, key=lambda c: c[0])[1]
    scale = 100.0 if max(found.values()) > 1.0 else 1.0
    return {key: found[key] / scale for key, _, _ in SCHWARTZ if key in found}


def _value_score(v: Any) -> float | None:
    """A value's score: a number, a MetricValue, or a per-value block holding one (score/mean/preference)."""
    direct = scalar(v)
    if direct is not None or not isinstance(v, dict):
        return direct
    for key in ("score", "mean", "preference", "p_yes"):
        if key in v and scalar(v[key]) is not None:
            return scalar(v[key])
    return None


def human_correlation(metrics: dict[str, Any]) -> Point | None:
    """The task's headline correlation with human ratings: its ``primary_score``'s, else the sampled one's."""
    first = f"pearson_human_{metrics.get('primary_score')}"
    keys = [k for k in dict.fromkeys((first, "pearson_human_rating", "pearson_human_expected_rating")) if k in metrics]
    keys += [k for k in metrics if str(k).startswith("pearson_human") and k not in keys]
    for k in keys:
        v = scalar(metrics[k])
        if v is not None:
            return Point(k, v, *interval(metrics[k]))
    return None


_KISS_WORDS = ("aggress", "own", "opponent", "self", "other", "level")


def kiss_up_coefficients(task: str, metrics: dict[str, Any]) -> list[Point]:
    """"Kiss up, kick down": a block the task names so, else offer-on-aggressiveness OLS coefficients."""
    named = [Point(path.split(".", 1)[-1], scalar(leaf), *interval(leaf)) for path, leaf in walk(metrics)
             if "kiss" in path.lower() and scalar(leaf) is not None]
    if named:
        return named[:12]
    points = []
    for path, leaf in walk(metrics):
        block, _, coef = path.rpartition(".")
        if not (isinstance(leaf, dict) and "b" in leaf and "value" not in leaf):
            continue
        is_offer = "offer" in block.lower() or task.startswith("ultimatum")
        if is_offer and any(w in coef.lower() for w in _KISS_WORDS) and _num(leaf.get("b")) is not None:
            points.append(Point(path, float(leaf["b"]), *interval(leaf)))
    return points[:12]


def isq_gains(leaves: dict[str, Any]) -> list[Point]:
    """Every I_avg in a row's columns (per strategy × platform or overall), then any other gain."""
    leaves = [(label, leaf) for label, leaf in leaves.items() if scalar(leaf) is not None]
    points = [Point(p, scalar(v), *interval(v)) for p, v in leaves if "i_avg" in p.lower()]
    points += [Point(p, scalar(v), *interval(v)) for p, v in leaves if "gain" in p.lower() and "i_avg" not in p.lower()]
    return points[:24]


def headline(task: str, available: Iterable[str]) -> str | None:
    """The column a board is sorted by (descending) when it opens: a known headline, else the first."""
    available = list(available)
    for key in HEADLINES.get(task, ()):
        if key in available:
            return key
    for word in ("i_avg", "gain"):
        for key in available:
            if word in key.lower():
                return key
    return available[0] if available else None
