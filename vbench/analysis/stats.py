"""Aggregations with uncertainty. Every metric a task reports goes through here, so CIs are uniform.

Every interval respects its unit of analysis: observations that share a cluster (the rounds and repeats
of one persona image, the questions of one feed trial) are resampled together. ``MetricValue`` says which
unit, how many clusters and which method, so a reader of results.json never has to guess. Bootstrap
seeds are fixed (``BOOTSTRAP_SEED``), independent of the run's ``--seed``: the same records always give
the same intervals.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Hashable, Sequence

import numpy as np
from pydantic import BaseModel, Field

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


def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.array([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ci(values: Sequence[float | None], stat: Callable[[np.ndarray], float] = np.mean,
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


def _valid(values: Sequence[float | None], keys: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    vals, ks = [], []
    for v, k in zip(values, keys):
        if v is None or k is None or (isinstance(k, tuple) and any(x is None for x in k)):
            continue
        v = float(v)
        if math.isfinite(v):
            vals.append(v)
            ks.append(k)
    return np.array(vals, dtype=float), ks


def cluster_bootstrap_ci(values: Sequence[float | None], clusters: Sequence[Hashable],
                         n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED,
                         alpha: float = 0.05) -> tuple[float | None, float | None, int]:
    """Percentile CI of a mean, resampling whole clusters (one-way); returns (low, high, n_clusters).

    Each replicate draws G clusters with replacement and takes the ratio of their summed values to their
    summed counts, so unequal cluster sizes weigh as in the point estimate.
    """
    arr, keys = _valid(values, clusters)
    codes, uniq = _codes(keys)
    g = len(uniq)
    if g < 2:
        return None, None, g
    sums, counts = np.bincount(codes, arr, g), np.bincount(codes, minlength=g).astype(float)
    w = np.random.default_rng(seed).multinomial(g, np.full(g, 1 / g), size=n_boot).astype(float)
    stats = (w @ sums) / np.maximum(w @ counts, 1e-300)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi), g


def crossed_bootstrap_ci(values: Sequence[float | None], pairs: Sequence[tuple[Hashable, Hashable]],
                         n_boot: int = N_BOOT, seed: int = BOOTSTRAP_SEED,
                         alpha: float = 0.05) -> tuple[float | None, float | None, int]:
    """Percentile CI of a mean whose observations belong to a pair of members of one pool.

    Ultimatum games pair two persona images drawn from the same set: an image shifts offers both as
    proposer and as opponent. The pigeonhole bootstrap (Owen 2007) resamples the pool once per replicate
    with multiplicities w and weighs pair (i, j) by w_i·w_j, so both memberships of an image move
    together. Returns (low, high, pool size).
    """
    arr, keys = _valid(values, pairs)
    members, uniq = _codes([m for k in keys for m in k])
    g = len(uniq)
    if g < 2:
        return None, None, g
    a, b = members[0::2], members[1::2]
    sums, counts = np.zeros((g, g)), np.zeros((g, g))
    np.add.at(sums, (a, b), arr)
    np.add.at(counts, (a, b), 1.0)
    w = np.random.default_rng(seed).multinomial(g, np.full(g, 1 / g), size=n_boot).astype(float)
    num = np.einsum("bi,ij,bj->b", w, sums, w)
    den = np.einsum("bi,ij,bj->b", w, counts, w)
    ok = den > 0
    lo, hi = np.quantile(num[ok] / den[ok], [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi), g


def _codes(keys: Sequence[Hashable]) -> tuple[np.ndarray, list[Hashable]]:
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    return codes, list(index)


def mean(values: Sequence[float | None], clusters: Sequence[Hashable] | None = None, *,
         crossed: Sequence[tuple[Hashable, Hashable]] | None = None, unit: str | None = None,
         seed: int = BOOTSTRAP_SEED) -> MetricValue:
    """Mean with a 95% percentile-bootstrap CI that respects the unit of analysis.

    ``clusters`` (one id per value) resamples clusters; ``crossed`` (a pair of pool members per value)
    uses the pigeonhole bootstrap over the pool; neither treats values as independent. ``unit`` names the
    unit resampled (e.g. "persona image"). Values with a missing cluster are left out.
    """
    if crossed is not None:
        arr, _ = _valid(values, crossed)
        lo, hi, g = crossed_bootstrap_ci(values, crossed, seed=seed)
        method = f"pigeonhole bootstrap over {unit or 'pool members'} (crossed pairs), percentile, B={N_BOOT}, seed={seed}"
    elif clusters is not None:
        arr, _ = _valid(values, clusters)
        lo, hi, g = cluster_bootstrap_ci(values, clusters, seed=seed)
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


def rate(flags: Sequence[bool | None], clusters: Sequence[Hashable] | None = None, *,
         crossed: Sequence[tuple[Hashable, Hashable]] | None = None, unit: str | None = None,
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


def pearson(x: Sequence[float | None], y: Sequence[float | None]) -> MetricValue:
    """Pearson r with Fisher-z 95% CI and p-value."""
    from scipy import stats as sps

    a, b = _paired(x, y)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return MetricValue(value=None, n=int(a.size), extra={"reason": "fewer than 3 pairs or constant input"})
    r, p = sps.pearsonr(a, b)
    lo, hi = _fisher_ci(float(r), a.size)
    return MetricValue(value=float(r), ci_low=lo, ci_high=hi, n=int(a.size), extra={"p": float(p)})


def spearman(x: Sequence[float | None], y: Sequence[float | None]) -> MetricValue:
    """Spearman rho with Fisher-z 95% CI (Bonett–Wright variance) and p-value."""
    from scipy import stats as sps

    a, b = _paired(x, y)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return MetricValue(value=None, n=int(a.size), extra={"reason": "fewer than 3 pairs or constant input"})
    rho, p = sps.spearmanr(a, b)
    rho = float(rho)
    lo = hi = None
    if a.size > 3 and abs(rho) < 1:
        z, se = math.atanh(rho), math.sqrt((1 + rho * rho / 2) / (a.size - 3))
        lo, hi = math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)
    return MetricValue(value=rho, ci_low=lo, ci_high=hi, n=int(a.size), extra={"p": float(p)})


def distribution(values: Sequence[Any], support: Sequence[Any]) -> dict[str, float]:
    """Share of each support value (missing values excluded)."""
    vals = [v for v in values if v is not None]
    n = len(vals) or 1
    return {str(s): sum(1 for v in vals if v == s) / n for s in support}


def ols(y: Sequence[float | None], X: dict[str, Sequence[float | None]],
        clusters: Sequence[Any] | None = None) -> dict[str, Any]:
    """OLS with an intercept; cluster-robust SEs when ``clusters`` is given (statsmodels).

    Returns {"coef": {name: {"b", "se", "p", "ci_low", "ci_high"}}, "n", "r2"}; rows with any
    missing value are dropped; constant regressors are dropped and listed under "dropped".
    """
    import pandas as pd
    import statsmodels.api as sm

    # plain arrays, not DataFrames: same fit, ~10x less overhead (metrics are recomputed in bulk)
    def column(values: Sequence[Any]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    yv, cols = column(list(y)), {k: column(list(v)) for k, v in X.items()}
    keep = ~np.isnan(yv)
    for col in cols.values():
        keep &= ~np.isnan(col)
    groups = None
    if clusters is not None:
        groups = pd.Series(list(clusters), dtype=object)
        keep &= groups.notna().to_numpy()
        groups = groups[keep]
    n = int(keep.sum())
    names = [k for k in X if np.unique(cols[k][keep]).size > 1]
    dropped = [k for k in X if k not in names]
    if n <= len(names) + 1 or not names:
        return {"coef": {}, "n": n, "r2": None, "dropped": dropped,
                "reason": "too few rows or no varying regressor"}
    exog = np.column_stack([np.ones(n)] + [cols[k][keep] for k in names])
    model = sm.OLS(yv[keep], exog)
    if groups is not None and groups.nunique() > 1:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]})
    else:
        fit = model.fit()
    ci = fit.conf_int()
    coef = {
        name: {"b": float(fit.params[i]), "se": float(fit.bse[i]), "p": float(fit.pvalues[i]),
               "ci_low": float(ci[i, 0]), "ci_high": float(ci[i, 1])}
        for i, name in enumerate(["const", *names])
    }
    return {"coef": coef, "n": int(fit.nobs), "r2": float(fit.rsquared), "dropped": dropped,
            "cov_type": "cluster" if clusters is not None else "nonrobust"}
