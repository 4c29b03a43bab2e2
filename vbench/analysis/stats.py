"""Aggregations with uncertainty. Every metric a task reports goes through here, so CIs are uniform.

Every interval respects its unit of analysis: observations that share a cluster (the rounds and repeats
of one persona image, the questions of one feed trial) are resampled together. ``MetricValue`` says which
unit, how many clusters and which method, so a reader of results.json never has to guess. Bootstrap
seeds are fixed (``BOOTSTRAP_SEED``), independent of the run's ``--seed``: the same records always give
the same intervals.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Hashable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from vbench.analysis.inputs import Keys, Pairs, Values
from vbench.analysis.regression import ols  # noqa: F401  (re-exported: every task calls stats.ols)

BOOTSTRAP_SEED = 0
N_BOOT = 1000


class MetricValue(BaseModel):
    """A reported number with its 95% interval, sample size, unit of analysis and method."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    unit: str | None = None
    n_clusters: int | None = None
    method: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


def _clean(values: Values) -> np.ndarray:
    arr = np.array([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ci(values: Values, stat: Callable[[np.ndarray], float] = np.mean,
                 n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED,
                 alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Percentile bootstrap over independent observations, vectorised and seeded."""
    arr = _clean(values)
    if arr.size < 2:
        return None, None
    rng = np.random.default_rng(seed)
    if stat is np.mean:
        uniq, counts = np.unique(arr, return_counts=True)
        if uniq.size * 12 < arr.size:
            # Few distinct values (offers, flags, counts): how often each value is drawn in a resample
            # is multinomial, so replicate means come from n_boot × k draws instead of n_boot × n.
            draws = rng.multinomial(arr.size, counts / arr.size, size=n_boot)
            stats = draws @ uniq / arr.size
        else:  # resample indices in chunks so memory stays bounded for large samples
            rows = max(1, 4_000_000 // arr.size)
            stats = np.concatenate([arr[rng.integers(0, arr.size, size=(min(rows, n_boot - s), arr.size))].mean(axis=1)
                                    for s in range(0, n_boot, rows)])
    else:
        idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
        stats = np.array([stat(arr[i]) for i in idx])
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _floats(values: Values) -> np.ndarray:
    """Values as floats, None → NaN (vectorised: metrics aggregate hundreds of thousands of rounds)."""
    return np.array(values if isinstance(values, np.ndarray) else list(values), dtype=float).reshape(-1)


def _key_codes(keys: Keys) -> np.ndarray:
    """Integer code per key, −1 for a missing key (None, or a tuple holding None).

    An integer array is taken as codes already (callers that aggregate many subsets code keys once).
    """
    if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
        return keys.astype(np.int64)
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    bad = [c for k, c in index.items() if k is None or (isinstance(k, tuple) and None in k)]
    if bad:
        codes[np.isin(codes, bad)] = -1
    return codes


def _compact(*codes: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Renumber the codes that occur to 0..G−1 jointly across arrays; returns (arrays, G)."""
    uniq, inv = np.unique(np.concatenate(codes), return_inverse=True)
    out, start = [], 0
    for c in codes:
        out.append(inv[start:start + c.size])
        start += c.size
    return out, int(uniq.size)


def _clustered(values: Values, clusters: Keys) -> tuple[np.ndarray, np.ndarray, int]:
    arr, codes = _floats(values), _key_codes(clusters if isinstance(clusters, np.ndarray) else list(clusters))
    ok = np.isfinite(arr) & (codes >= 0)
    (codes,), g = _compact(codes[ok])
    return arr[ok], codes, g


def _crossed(values: Values, pairs: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    arr = _floats(values)
    if isinstance(pairs, np.ndarray) and pairs.ndim == 2 and pairs.dtype.kind in "iu":  # coded (n, 2)
        a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        ok = np.isfinite(arr) & (a >= 0) & (b >= 0)
        (a, b), g = _compact(a[ok], b[ok])
        return arr[ok], a, b, g
    pairs = list(pairs)
    missing = np.fromiter((p is None for p in pairs), dtype=bool, count=len(pairs))
    members = _key_codes([m for p in pairs for m in (p if p is not None else (None, None))])
    a, b = members[0::2], members[1::2]
    ok = np.isfinite(arr) & ~missing & (a >= 0) & (b >= 0)
    (a, b), g = _compact(a[ok], b[ok])
    return arr[ok], a, b, g


@lru_cache(maxsize=64)
def _weights(g: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap multiplicities of G units (B × G); the same for every metric of a given G and seed."""
    w = np.random.default_rng(seed).multinomial(g, np.full(g, 1 / g), size=n_boot).astype(float)
    w.flags.writeable = False
    return w


@lru_cache(maxsize=8)
def _pair_weights(g: int, n_boot: int, seed: int) -> np.ndarray | None:
    """w_i·w_j for every pair cell (B × G²), or None when too large to keep (then computed per call)."""
    if n_boot * g * g > 20_000_000:
        return None
    w = _weights(g, n_boot, seed)
    w2 = (w[:, :, None] * w[:, None, :]).reshape(n_boot, g * g)
    w2.flags.writeable = False
    return w2


def _cluster_ci(arr: np.ndarray, codes: np.ndarray, g: int, n_boot: int, seed: int,
                alpha: float) -> tuple[float | None, float | None]:
    if g < 2:
        return None, None
    sums, counts = np.bincount(codes, arr, g), np.bincount(codes, minlength=g).astype(float)
    w = _weights(g, n_boot, seed)
    stats = (w @ sums) / np.maximum(w @ counts, 1e-300)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _crossed_ci(arr: np.ndarray, a: np.ndarray, b: np.ndarray, g: int, n_boot: int, seed: int,
                alpha: float) -> tuple[float | None, float | None]:
    if g < 2:
        return None, None
    cell = a * g + b
    sums = np.bincount(cell, arr, g * g).reshape(g, g)
    counts = np.bincount(cell, minlength=g * g).astype(float).reshape(g, g)
    w2 = _pair_weights(g, n_boot, seed)
    if w2 is not None:  # one matrix-vector product over the G² cells (fast and free of BLAS threading cost)
        num, den = w2 @ sums.ravel(), w2 @ counts.ravel()
    else:
        w = _weights(g, n_boot, seed)
        num, den = ((w @ sums) * w).sum(axis=1), ((w @ counts) * w).sum(axis=1)
    ok = den > 0
    lo, hi = np.quantile(num[ok] / den[ok], [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def cluster_bootstrap_ci(values: Values, clusters: Keys,
                         n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED,
                         alpha: float = 0.05) -> tuple[float | None, float | None, int]:
    """Percentile CI of a mean, resampling whole clusters (one-way); returns (low, high, n_clusters).

    Each replicate draws G clusters with replacement and takes the ratio of their summed values to their
    summed counts, so unequal cluster sizes weigh as in the point estimate.
    """
    arr, codes, g = _clustered(values, clusters)
    return (*_cluster_ci(arr, codes, g, n_boot, seed, alpha), g)


def crossed_bootstrap_ci(values: Values, pairs: Pairs,
                         n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED,
                         alpha: float = 0.05) -> tuple[float | None, float | None, int]:
    """Percentile CI of a mean whose observations belong to a pair of members of one pool.

    Ultimatum games pair two persona images drawn from the same set: an image shifts offers both as
    proposer and as opponent. The pigeonhole bootstrap (Owen 2007) resamples the pool once per replicate
    with multiplicities w and weighs pair (i, j) by w_i·w_j, so both memberships of an image move
    together. Returns (low, high, pool size).
    """
    arr, a, b, g = _crossed(values, pairs)
    return (*_crossed_ci(arr, a, b, g, n_boot, seed, alpha), g)


def mean(values: Values, clusters: Keys | None = None, *,
         crossed: Pairs | None = None, unit: str | None = None,
         seed: int = BOOTSTRAP_SEED) -> MetricValue:
    """Mean with a 95% percentile-bootstrap CI that respects the unit of analysis.

    ``clusters`` (one id per value) resamples clusters; ``crossed`` (a pair of pool members per value)
    uses the pigeonhole bootstrap over the pool; neither treats values as independent. ``unit`` names the
    unit resampled (e.g. "persona image"). Values with a missing cluster are left out. Ids may be given
    pre-coded: an int array (clusters) or an (n, 2) int array (crossed), −1 = missing.
    """
    if crossed is not None:
        arr, a, b, g = _crossed(values, crossed)
        lo, hi = _crossed_ci(arr, a, b, g, N_BOOT, seed, 0.05)
        method = f"pigeonhole bootstrap over {unit or 'pool members'} (crossed pairs), percentile, B={N_BOOT}, seed={seed}"
    elif clusters is not None:
        arr, codes, g = _clustered(values, clusters)
        lo, hi = _cluster_ci(arr, codes, g, N_BOOT, seed, 0.05)
        method = f"cluster bootstrap over {unit or 'clusters'}, percentile, B={N_BOOT}, seed={seed}"
    else:
        arr = _clean(values)
        lo, hi = bootstrap_ci(arr, seed=seed)
        g = None
        method = f"bootstrap over {unit or 'observations'} (independent), percentile, B={N_BOOT}, seed={seed}"
    if arr.size == 0:
        return MetricValue(value=None, n=0, unit=unit, n_clusters=g, method=method)
    return MetricValue(value=float(arr.mean()), ci_low=lo, ci_high=hi, n=int(arr.size), unit=unit,
                       n_clusters=g if g is not None else int(arr.size), method=method,
                       extra={"std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0})


def rate(flags: Values, clusters: Keys | None = None, *,
         crossed: Pairs | None = None, unit: str | None = None,
         seed: int = BOOTSTRAP_SEED) -> MetricValue:
    """Share of True among non-missing flags, with a bootstrap CI over ``unit`` (as ``mean``)."""
    return mean([None if f is None else float(bool(f)) for f in flags], clusters, crossed=crossed, unit=unit,
                seed=seed)


def _paired(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None
             and math.isfinite(a) and math.isfinite(b)]
    if not pairs:
        return np.array([]), np.array([])
    a, b = zip(*pairs)
    return np.array(a, dtype=float), np.array(b, dtype=float)


def _fisher_ci(r: float, n: int) -> tuple[float | None, float | None]:
    if n <= 3 or abs(r) >= 1:
        return None, None
    z, se = math.atanh(r), 1 / math.sqrt(n - 3)
    return math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def pearson(x: Sequence[float | None], y: Sequence[float | None], *, unit: str | None = None) -> MetricValue:
    """Pearson r with Fisher-z 95% CI and p-value; each (x, y) pair must be one independent ``unit``."""
    from scipy import stats as sps

    a, b = _paired(x, y)
    method = "Pearson r, Fisher-z interval"
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return MetricValue(value=None, n=int(a.size), unit=unit, n_clusters=int(a.size), method=method,
                           extra={"reason": "fewer than 3 pairs or constant input"})
    r, p = sps.pearsonr(a, b)
    lo, hi = _fisher_ci(float(r), a.size)
    return MetricValue(value=float(r), ci_low=lo, ci_high=hi, n=int(a.size), unit=unit, n_clusters=int(a.size),
                       method=method, extra={"p": float(p)})


def spearman(x: Sequence[float | None], y: Sequence[float | None], *, unit: str | None = None) -> MetricValue:
    """Spearman rho with Fisher-z 95% CI (Bonett–Wright variance) and p-value; pairs are independent units."""
    from scipy import stats as sps

    a, b = _paired(x, y)
    method = "Spearman rho, Fisher-z interval (Bonett-Wright variance)"
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return MetricValue(value=None, n=int(a.size), unit=unit, n_clusters=int(a.size), method=method,
                           extra={"reason": "fewer than 3 pairs or constant input"})
    rho, p = sps.spearmanr(a, b)
    rho = float(rho)
    lo = hi = None
    if a.size > 3 and abs(rho) < 1:
        z, se = math.atanh(rho), math.sqrt((1 + rho * rho / 2) / (a.size - 3))
        lo, hi = math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)
    return MetricValue(value=rho, ci_low=lo, ci_high=hi, n=int(a.size), unit=unit, n_clusters=int(a.size),
                       method=method, extra={"p": float(p)})


def distribution(values: Sequence[Any], support: Sequence[Any]) -> dict[str, float]:
    """Share of each support value (missing values excluded)."""
    vals = [v for v in values if v is not None]
    n = len(vals) or 1
    return {str(s): sum(1 for v in vals if v == s) / n for s in support}
