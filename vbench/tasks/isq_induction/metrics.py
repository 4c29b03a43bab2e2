"""Metrics of a feed run, computed from records alone (no corpus, no model).

I_avg (the paper's Eq. 1): per trial t, with Y_f and Y_l the "yes" (watch) counts in the first and
the last n scrolls, r_t = (Y_l - Y_f) / Y_f, and I_avg = mean_t r_t. Zero denominator (Y_f = 0):
if Y_l = 0 too, nothing changed and r_t = 0; if Y_l > 0 the relative increase is infinite, so r_t is
undefined and the trial is left out of I_avg. Both cases are counted in the metric's ``extra``, and
``yes_rate_change`` (Y_l - Y_f) / n is reported beside it because it is always defined.

Alignment (not in the paper): the share of shown items whose Schwartz value is one of the persona's
target values, over the first and the last n scrolls, and the paired gain of a strategy's last-n
alignment over the ``plain`` baseline of the same platform, trial and repeat (same persona, same
recommender seed). ``alignment_base`` is what a feed ignoring the viewer would show on average.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from vbench.analysis import stats
from vbench.types import Record

ZERO_DENOMINATOR = ("Y_f = 0 and Y_l = 0: r_t = 0 (no change); Y_f = 0 and Y_l > 0: r_t undefined "
                    "(infinite increase), trial left out of I_avg and counted in n_undefined")


def relative_increase(y_first: int, y_last: int) -> float | None:
    """One trial's term of Eq. 1 with the zero-denominator rule above."""
    if y_first == 0:
        return 0.0 if y_last == 0 else None
    return (y_last - y_first) / y_first


def trial_stats(record: Record, n: int) -> dict[str, Any]:
    watched = np.asarray(record.outputs["watched"], dtype=float)
    targets = set(record.sample.get("persona_values") or [])
    aligned = np.asarray([v in targets for v in record.outputs["item_values"]], dtype=float)
    y_first, y_last = int(watched[:n].sum()), int(watched[-n:].sum())
    return {
        "key": (record.sample["platform"], record.sample["trial"], record.repeat),
        "strategy": record.sample["strategy"], "platform": record.sample["platform"],
        "y_first": y_first, "y_last": y_last, "r": relative_increase(y_first, y_last),
        "yes_rate": float(watched.mean()), "yes_first": y_first / n, "yes_last": y_last / n,
        "align_first": float(aligned[:n].mean()), "align_last": float(aligned[-n:].mean()),
        "align_base": record.sample.get("base_alignment"),
        "parse_failures": int(record.outputs.get("parse_failures", 0)),
        "scrolls": int(watched.size), "pool": record.sample.get("pool"),
    }


def _i_avg(rows: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    mv = stats.mean([r["r"] for r in rows], seed=seed)
    mv.extra.update({
        "n_trials": len(rows),
        "n_zero_denominator": sum(r["y_first"] == 0 for r in rows),
        "n_zero_zero": sum(r["y_first"] == 0 and r["y_last"] == 0 for r in rows),
        "n_undefined": sum(r["r"] is None for r in rows),
        "percent": None if mv.value is None else 100 * mv.value,
    })
    return mv.model_dump()


def _group_metrics(rows: list[dict[str, Any]], plain: dict[tuple, dict[str, Any]], seed: int) -> dict[str, Any]:
    m: dict[str, Any] = {"n_trials": len(rows), "I_avg": _i_avg(rows, seed)}
    for name, key in (("yes_rate", "yes_rate"), ("yes_first", "yes_first"), ("yes_last", "yes_last"),
                      ("alignment_first", "align_first"), ("alignment_last", "align_last"),
                      ("alignment_base", "align_base")):
        m[name] = stats.mean([r[key] for r in rows], seed=seed).model_dump()
    m["yes_rate_change"] = stats.mean([r["yes_last"] - r["yes_first"] for r in rows], seed=seed).model_dump()
    m["alignment_change"] = stats.mean([r["align_last"] - r["align_first"] for r in rows], seed=seed).model_dump()
    if rows and rows[0]["strategy"] != "plain" and plain:
        gains = [r["align_last"] - plain[r["key"]]["align_last"] for r in rows if r["key"] in plain]
        m["alignment_gain_vs_plain"] = stats.mean(gains, seed=seed).model_dump()
    scrolls = sum(r["scrolls"] for r in rows)
    m["parse_failure_rate"] = (sum(r["parse_failures"] for r in rows) / scrolls) if scrolls else None
    pools = sorted({r["pool"] for r in rows if r["pool"]})
    if pools:
        m["pool"] = pools[0] if len(pools) == 1 else pools
    return m


def compute_metrics(records: Iterable[Record], n: int, seed: int = 0) -> dict[str, Any]:
    rows = [trial_stats(r, n) for r in records]
    plain = {r["key"]: r for r in rows if r["strategy"] == "plain"}
    cells: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_strategy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cells[f"{r['strategy']}/{r['platform']}"].append(r)
        by_strategy[r["strategy"]].append(r)
    return {
        "n": n,
        "zero_denominator": ZERO_DENOMINATOR,
        "cells": {name: _group_metrics(group, plain, seed) for name, group in cells.items()},
        "by_strategy": {name: _group_metrics(group, plain, seed) for name, group in by_strategy.items()},
    }


def summary_rows(metrics: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """Terminal table: per strategy (pooled) and per cell, I_avg and last-n alignment (+ gain)."""
    for scope in ("by_strategy", "cells"):
        for name, m in metrics.get(scope, {}).items():
            yield f"{name} I_avg", m["I_avg"]
            yield f"{name} alignment last-n", m["alignment_last"]
            if "alignment_gain_vs_plain" in m:
                yield f"{name} alignment gain vs plain", m["alignment_gain_vs_plain"]
