"""Preference scores per Schwartz value, their spread and ranking, per platform, and mode comparisons.

A "score" is one item's answer: 1/0 for a parsed yes/no (paper fidelity) or P(yes) from ``choose``.
Per value: mean over its items with a bootstrap CI, and the (population) std of the per-keyword means.
Across values: the std of the per-value means (the paper's per-model spread) and the ranking.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from vbench.analysis import stats
from vbench.runners.choice import parse_choice


def parse_yes_no(text: str | None) -> int | None:
    """First standalone "yes" (1) or "no" (0) in the answer, any case; None when neither occurs."""
    choice = parse_choice(text, ("yes", "no"))
    return None if choice is None else int(choice == "yes")


def _order(values: Sequence[str], known: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [v for v in known if v in present] + [v for v in present if v not in known]


def preference_block(rows: list[dict[str, Any]], key: str, order: Sequence[str] = (), seed: int = 0) -> dict[str, Any]:
    """rows: {value, keyword, platform, <key>}; rows whose score is None are left out (parse failures)."""
    scored = [r for r in rows if r.get(key) is not None and r.get("value") is not None]
    values = _order([r["value"] for r in scored], order)
    per_value: dict[str, Any] = {}
    means: dict[str, float] = {}
    for v in values:
        vr = [r for r in scored if r["value"] == v]
        mv = stats.mean([float(r[key]) for r in vr], seed=seed)
        by_kw: dict[str, list[float]] = defaultdict(list)
        for r in vr:
            by_kw[str(r.get("keyword"))].append(float(r[key]))
        kw_means = {k: float(np.mean(s)) for k, s in by_kw.items()}
        per_value[v] = {"score": mv.model_dump(), "n": mv.n, "n_keywords": len(kw_means),
                        "std_keywords": float(np.std(list(kw_means.values()))) if len(kw_means) > 1 else None,
                        "keywords": kw_means}
        means[v] = float(mv.value)
    block: dict[str, Any] = {
        "overall": stats.mean([float(r[key]) for r in scored], seed=seed).model_dump(),
        "values": per_value,
        "std_across_values": float(np.std(list(means.values()))) if len(means) > 1 else None,
        "ranking": sorted(values, key=lambda v: (-means[v], values.index(v))),
    }
    platforms = _order([r["platform"] for r in scored if r.get("platform")], ())
    if platforms:
        block["platforms"] = {}
        for p in platforms:
            pr = [r for r in scored if r.get("platform") == p]
            pv = {v: float(np.mean([float(r[key]) for r in pr if r["value"] == v]))
                  for v in values if any(r["value"] == v for r in pr)}
            block["platforms"][p] = {"score": stats.mean([float(r[key]) for r in pr], seed=seed).model_dump(),
                                     "values": pv}
    return block


def value_means(block: dict[str, Any]) -> dict[str, float]:
    return {v: b["score"]["value"] for v, b in block["values"].items() if b["score"]["value"] is not None}


def compare_modes(direct: dict[str, Any], caption: dict[str, Any]) -> dict[str, Any]:
    """Per-value difference (caption − direct) and rank/linear correlation across values."""
    d, c = value_means(direct), value_means(caption)
    common = [v for v in d if v in c]
    x, y = [d[v] for v in common], [c[v] for v in common]
    diffs = {v: c[v] - d[v] for v in common}
    return {"values": common, "diff": diffs,
            "mean_abs_diff": float(np.mean(np.abs(list(diffs.values())))) if diffs else None,
            "spearman": stats.spearman(x, y).model_dump(), "pearson": stats.pearson(x, y).model_dump(),
            "direct_ranking": sorted(common, key=lambda v: -d[v]), "caption_ranking": sorted(common, key=lambda v: -c[v])}


def agreement(pairs: list[tuple[float | None, float | None]], seed: int = 0) -> dict[str, Any]:
    """Share of items answered the same way in both modes (both parsed)."""
    return stats.rate([a == b for a, b in pairs if a is not None and b is not None], seed=seed).model_dump()
