"""Preference scores per Schwartz value, their spread and ranking, per platform, and mode comparisons.

A "score" is one item's answer: 1/0 for a parsed yes/no (paper fidelity) or P(yes) from ``choose``.
The screenshot is the unit of analysis: repeats of one screenshot are resampled together (cluster
bootstrap, fixed seed) and the tests below compare per-screenshot means. Per value: mean with its
interval, the (population) std of the per-keyword means, the parse rate and the unparsed answers
themselves (a parse failure is reported, never silently dropped). Across values: the std of the
per-value means (the paper's per-model spread), the ranking and Holm-adjusted pairwise tests.
"""
from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations
from typing import Any, Hashable, Sequence

import numpy as np

from vbench.analysis import stats
from vbench.runners.choice import parse_choice

UNIT = "screenshot (repeats resampled together)"
MAX_UNPARSED = 10  # unparsed answers listed per value (all are counted)
PAIRWISE_METHOD = ("Welch t-test on per-screenshot mean scores, value vs value, Holm-adjusted over all pairs "
                   "(statsmodels multipletests); alpha 0.05")


def parse_yes_no(text: str | None) -> int | None:
    """First standalone "yes" (1) or "no" (0) in the answer, any case; None when neither occurs."""
    choice = parse_choice(text, ("yes", "no"))
    return None if choice is None else int(choice == "yes")


def _order(values: Sequence[str], known: Sequence[str]) -> list[str]:
    present = list(dict.fromkeys(values))
    return [v for v in known if v in present] + [v for v in present if v not in known]


def _cluster(r: dict[str, Any], i: int) -> Hashable:
    return r.get("cluster") if r.get("cluster") is not None else ("row", i)


def _mean(rows: list[tuple[int, dict]], key: str) -> dict[str, Any]:
    return stats.mean([float(r[key]) for _, r in rows], [_cluster(r, i) for i, r in rows], unit=UNIT).model_dump()


def per_screenshot(rows: list[tuple[int, dict]], key: str) -> dict[Hashable, float]:
    """Mean score per screenshot (its repeats averaged)."""
    acc: dict[Hashable, list[float]] = defaultdict(list)
    for i, r in rows:
        acc[_cluster(r, i)].append(float(r[key]))
    return {c: float(np.mean(v)) for c, v in acc.items()}


def _parse_block(rows: list[tuple[int, dict]], parse_key: str, answer_key: str) -> dict[str, Any]:
    flagged = [(i, r) for i, r in rows if r.get(parse_key) is not None]
    failed = [r for _, r in flagged if not r[parse_key]]
    return {"parse_rate": stats.rate([r[parse_key] for _, r in flagged], [_cluster(r, i) for i, r in flagged],
                                     unit=UNIT).model_dump(),
            "n_unparsed": len(failed),
            "unparsed": [{"sample": r.get("sample"), "answer": r.get(answer_key)} for r in failed[:MAX_UNPARSED]]}


def holm_pairwise(groups: dict[str, dict[Hashable, float]]) -> dict[str, Any]:
    """Every pair of groups: difference of means, Welch p and Holm-adjusted p (pairs with no variance: p None)."""
    from scipy import stats as sps
    from statsmodels.stats.multitest import multipletests

    pairs = []
    for a, b in combinations(list(groups), 2):
        x, y = np.array(list(groups[a].values())), np.array(list(groups[b].values()))
        p = None
        if x.size >= 2 and y.size >= 2 and (x.std() > 0 or y.std() > 0):
            p = float(sps.ttest_ind(x, y, equal_var=False).pvalue)
            p = p if math.isfinite(p) else None
        pairs.append({"a": a, "b": b, "diff": float(x.mean() - y.mean()), "n_a": int(x.size), "n_b": int(y.size),
                      "p": p})
    tested = [q for q in pairs if q["p"] is not None]
    if tested:
        reject, adjusted, _, _ = multipletests([q["p"] for q in tested], alpha=0.05, method="holm")
        for q, rj, adj in zip(tested, reject, adjusted):
            q.update(p_holm=float(adj), significant=bool(rj))
    for q in pairs:
        q.setdefault("p_holm", None)
        q.setdefault("significant", None)
    return {"method": PAIRWISE_METHOD, "n_tests": len(tested), "n_significant": sum(bool(q["significant"]) for q in pairs),
            "pairs": pairs}


def preference_block(rows: list[dict[str, Any]], key: str, order: Sequence[str] = (),
                     parse_key: str | None = None, answer_key: str = "answer") -> dict[str, Any]:
    """rows: {value, keyword, platform, cluster, sample, <key>}; rows whose score is None are parse failures,
    counted per value (with the answers, when ``parse_key`` names the parse flag) and left out of the means."""
    indexed = [(i, r) for i, r in enumerate(rows) if r.get("value") is not None]
    scored = [(i, r) for i, r in indexed if r.get(key) is not None]
    values = _order([r["value"] for _, r in scored] + [r["value"] for _, r in indexed], order)
    per_value: dict[str, Any] = {}
    means: dict[str, float] = {}
    shots: dict[str, dict[Hashable, float]] = {}
    for v in values:
        vr = [(i, r) for i, r in scored if r["value"] == v]
        block: dict[str, Any] = {"score": _mean(vr, key), "n": len(vr), "n_keywords": 0, "std_keywords": None,
                                 "keywords": {}}
        if vr:
            by_kw: dict[str, list[float]] = defaultdict(list)
            for _, r in vr:
                by_kw[str(r.get("keyword"))].append(float(r[key]))
            kw_means = {k: float(np.mean(s)) for k, s in by_kw.items()}
            block.update(n_keywords=len(kw_means), keywords=kw_means,
                         std_keywords=float(np.std(list(kw_means.values()))) if len(kw_means) > 1 else None)
            means[v] = float(block["score"]["value"])
            shots[v] = per_screenshot(vr, key)
        if parse_key:
            block.update(_parse_block([(i, r) for i, r in indexed if r["value"] == v], parse_key, answer_key))
        per_value[v] = block
    ranked = [v for v in values if v in means]
    out: dict[str, Any] = {
        "overall": _mean(scored, key),
        "values": per_value,
        "std_across_values": float(np.std(list(means.values()))) if len(means) > 1 else None,
        "ranking": sorted(ranked, key=lambda v: (-means[v], ranked.index(v))),
        "pairwise": holm_pairwise(shots),
    }
    platforms = _order([r["platform"] for _, r in scored if r.get("platform")], ())
    if platforms:
        out["platforms"] = {}
        for p in platforms:
            pr = [(i, r) for i, r in scored if r.get("platform") == p]
            pv = {v: float(np.mean([float(r[key]) for _, r in pr if r["value"] == v]))
                  for v in ranked if any(r["value"] == v for _, r in pr)}
            out["platforms"][p] = {"score": _mean(pr, key), "values": pv}
    return out


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


def agreement(pairs: list[tuple[float | None, float | None]], clusters: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Share of items answered the same way in both modes (both parsed), clustered by screenshot."""
    keep = [i for i, (a, b) in enumerate(pairs) if a is not None and b is not None]
    return stats.rate([pairs[i][0] == pairs[i][1] for i in keep],
                      None if clusters is None else [clusters[i] for i in keep], unit=UNIT).model_dump()
