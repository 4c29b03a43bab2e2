"""Metrics of a feed run, computed from records and options alone (no corpus, no model).

I_avg (the paper's Eq. 1): per trial t, with Y_f and Y_l the "yes" (watch) counts in the first and
the last n scrolls, r_t = (Y_l - Y_f) / Y_f, and I_avg = mean_t r_t. Zero denominator (Y_f = 0):
if Y_l = 0 too, nothing changed and r_t = 0; if Y_l > 0 the relative increase is infinite, so r_t is
undefined and the trial is left out of I_avg. Both cases are counted in the metric's ``extra``, and
``yes_rate_change`` (Y_l - Y_f) / n is reported beside it because it is always defined.

Alignment (not in the paper): the share of shown items whose Schwartz value is one of the persona's
target values, over the first and the last n scrolls, and the paired gain of a strategy's last-n
alignment over the ``plain`` baseline of the same platform, trial and repeat (same persona, same
recommender seed). The gain is the headline: a viewer with a fixed taste (or none) moves the feed as
much under ``plain`` as under a persona, so only persona-driven behaviour scores; I_avg rewards any
taste the feed can learn and is kept as the paper's number.

Unit of analysis: the trial index. Its persona is shared by every platform, strategy and repeat, so
intervals resample trial indices (cluster bootstrap, fixed seed), never scrolls or cells.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from vbench.analysis import stats
from vbench.types import Record

UNIT = "trial (persona; platforms and repeats of one trial index resampled together)"
HEADLINE = "alignment_gain_vs_plain"
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
        "cluster": record.sample["trial"],
        "strategy": record.sample["strategy"], "platform": record.sample["platform"],
        "y_first": y_first, "y_last": y_last, "r": relative_increase(y_first, y_last),
        "yes_rate": float(watched.mean()), "yes_first": y_first / n, "yes_last": y_last / n,
        "align_first": float(aligned[:n].mean()), "align_last": float(aligned[-n:].mean()),
        "align_base": record.sample.get("base_alignment"),
        "parse_failures": int(record.outputs.get("parse_failures", 0)),
        "scrolls": int(watched.size), "pool": record.sample.get("pool"),
    }


def _mean(rows: list[dict[str, Any]], values: list[float | None]) -> dict[str, Any]:
    return stats.mean(values, [r["cluster"] for r in rows], unit=UNIT).model_dump()


def _i_avg(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = _mean(rows, [r["r"] for r in rows])
    out["extra"].update({
        "n_trials": len(rows),
        "n_zero_denominator": sum(r["y_first"] == 0 for r in rows),
        "n_zero_zero": sum(r["y_first"] == 0 and r["y_last"] == 0 for r in rows),
        "n_undefined": sum(r["r"] is None for r in rows),
        "percent": None if out["value"] is None else 100 * out["value"],
    })
    return out


def _group_metrics(rows: list[dict[str, Any]], plain: dict[tuple, dict[str, Any]]) -> dict[str, Any]:
    m: dict[str, Any] = {"n_trials": len(rows), "I_avg": _i_avg(rows)}
    for name, key in (("yes_rate", "yes_rate"), ("yes_first", "yes_first"), ("yes_last", "yes_last"),
                      ("alignment_first", "align_first"), ("alignment_last", "align_last"),
                      ("alignment_base", "align_base")):
        m[name] = _mean(rows, [r[key] for r in rows])
    m["yes_rate_change"] = _mean(rows, [r["yes_last"] - r["yes_first"] for r in rows])
    m["alignment_change"] = _mean(rows, [r["align_last"] - r["align_first"] for r in rows])
    if rows and rows[0]["strategy"] != "plain" and plain:
        paired = [r for r in rows if r["key"] in plain]
        m[HEADLINE] = _mean(paired, [r["align_last"] - plain[r["key"]]["align_last"] for r in paired])
        m[HEADLINE]["extra"]["n_unpaired"] = len(rows) - len(paired)
    scrolls = sum(r["scrolls"] for r in rows)
    m["parse_failure_rate"] = (sum(r["parse_failures"] for r in rows) / scrolls) if scrolls else None
    pools = sorted({r["pool"] for r in rows if r["pool"]})
    if pools:
        m["pool"] = pools[0] if len(pools) == 1 else pools
    return m


def headline_strategy(strategies: Iterable[str]) -> str | None:
    """The strategy the headline reports: ``isq`` when run, else the last persona strategy."""
    persona = [s for s in strategies if s != "plain"]
    return "isq" if "isq" in persona else (persona[-1] if persona else None)


def compute_metrics(records: Iterable[Record], n: int) -> dict[str, Any]:
    rows = [trial_stats(r, n) for r in records]
    plain = {r["key"]: r for r in rows if r["strategy"] == "plain"}
    cells: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_strategy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        cells[f"{r['strategy']}/{r['platform']}"].append(r)
        by_strategy[r["strategy"]].append(r)
    pooled = {name: _group_metrics(group, plain) for name, group in by_strategy.items()}
    m: dict[str, Any] = {"n": n, "zero_denominator": ZERO_DENOMINATOR}
    strategy = headline_strategy(pooled)
    if strategy is not None and HEADLINE in pooled[strategy]:
        m["headline"] = {"metric": f"by_strategy.{strategy}.{HEADLINE}", "strategy": strategy,
                         "estimand": f"last-n persona alignment of {strategy} minus plain on the same feed "
                                     f"(platform, trial, repeat), pooled over platforms",
                         **pooled[strategy][HEADLINE]}
    m["cells"] = {name: _group_metrics(group, plain) for name, group in cells.items()}
    m["by_strategy"] = pooled
    return m


def design_block(records: list[Record], platforms: list[str], strategies: list[str], scrolls: int) -> dict[str, Any]:
    """What was run, from the options and the design facts every record carries (pool, topics, supply)."""
    first: dict[tuple[str, int], dict[str, Any]] = {}
    for r in records:
        first.setdefault((r.sample["platform"], r.sample["trial"]), r.sample)
    by_platform: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (platform, _), sample in sorted(first.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        by_platform[platform].append(sample)
    excluded = sorted({s["personas_excluded"] for s in first.values() if s.get("personas_excluded") is not None})
    return {
        "platforms": platforms, "strategies": strategies, "scrolls": scrolls,
        "trials_per_cell": len({r.sample["trial"] for r in records}),
        "pools": {p: ss[0].get("pool") for p, ss in by_platform.items()},
        "topics": {p: ss[0].get("topics") for p, ss in by_platform.items()},
        "supply": {p: {"trials": len(ss),
                       "min_liked_items": min((s["liked_items"] for s in ss if "liked_items" in s), default=None),
                       "pool_items": ss[0].get("pool_items"),
                       "marginal_trials": sum(s.get("supply") == "marginal" for s in ss)}
                   for p, ss in by_platform.items()},
        "personas_excluded": excluded[0] if len(excluded) == 1 else excluded or None,
    }


def summary_rows(metrics: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    """Terminal table: the headline, then per strategy (pooled) and per cell, gain, I_avg, alignment."""
    if "headline" in metrics:
        yield f"{metrics['headline']['strategy']} alignment gain vs plain (headline)", metrics["headline"]
    for scope in ("by_strategy", "cells"):
        for name, m in metrics.get(scope, {}).items():
            yield f"{name} I_avg", m["I_avg"]
            yield f"{name} alignment last-n", m["alignment_last"]
            if HEADLINE in m:
                yield f"{name} alignment gain vs plain", m[HEADLINE]
