"""OLS whose standard errors respect the unit of analysis (statsmodels fits, one extra covariance).

Three designs occur in vbench: rows that are independent units (per-image means: heteroskedasticity-
robust HC3), rows nested in one cluster (the rounds and repeats of a persona image: delete-one-cluster
jackknife, statsmodels), and rows that belong to a *pair* of members of one pool (an ultimatum game between two
persona images of the same set). For the last, an image moves offers both as proposer and as opponent,
so any two rows sharing an image, in either role, may be correlated. Two-way clustering by proposer and
opponent image (Cameron–Gelbach–Miller) misses the cross-role pairs; the dyadic-robust sandwich
(Fafchamps–Gubert 2007; Aronow, Samii & Assenova 2015) counts them but, like every CR1 sandwich, runs
small with the 35 images of the paper's design. The delete-one-image jackknife (an image leaves in both
roles at once) keeps its coverage there, so it is vbench's default for pairs, and statsmodels'
delete-one-cluster jackknife (``cluster-jk``) for one-way clusters; ``benchmarks/bench_coverage.py``
prints the comparison. Intervals use Student t with G − 1 degrees of freedom (G = clusters or images).
"""
from __future__ import annotations

from typing import Any, Hashable, Literal, Mapping, Sequence, TypeGuard

import numpy as np

from vbench.analysis.inputs import Keys, Pairs, Values

PairCov = Literal["jackknife", "dyadic", "twoway"]


def _column(values: Values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _is_codes(keys: object) -> TypeGuard[np.ndarray]:
    return isinstance(keys, np.ndarray) and keys.dtype.kind in "iu"


def _codes_missing(keys: Sequence[Hashable]) -> np.ndarray:
    """Integer code per key, −1 for None."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=len(keys))
    if None in index:
        codes[codes == index[None]] = -1
    return codes


def _pair_codes(pairs: Pairs) -> np.ndarray:
    """(n, 2) member codes of one shared pool, −1 for a missing member; an (n, 2) int array passes through."""
    if _is_codes(pairs):
        return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    flat = [m for p in pairs for m in (p if p is not None else (None, None))]
    return _codes_missing(flat).reshape(-1, 2)


def _member_sums(values: np.ndarray, a: np.ndarray, b: np.ndarray, g: int) -> np.ndarray:
    """Per member, the sum of ``values`` rows it is in (either role; a self-pair row once): G × ...."""
    flat = values.reshape(values.shape[0], -1)
    other = a != b
    out = np.stack([np.bincount(a, col, g) + np.bincount(b[other], col[other], g) for col in flat.T], axis=1)
    return out.reshape((g,) + values.shape[1:])


def dyadic_cov(exog: np.ndarray, resid: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Dyadic-robust covariance of OLS coefficients; rows are pairs (a[i], b[i]) of pool member codes.

    Meat = Σ over row pairs sharing ≥ 1 member of u_p u_qᵀ, by inclusion–exclusion: Σ_members S_m S_mᵀ
    (S_m = scores of rows involving m, a self-pair counted once) minus Σ_dyads D_d D_dᵀ (rows of one
    unordered pair of distinct members share two). Small-sample factor G/(G−1)·(n−1)/(n−k) as for
    one-way CGM; negative eigenvalues are clipped to 0. Returns (covariance, G).
    """
    n, k = exog.shape
    scores = exog * resid[:, None]
    g = int(max(a.max(), b.max())) + 1
    member_sums = _member_sums(scores, a, b, g)
    distinct = a != b
    lo, hi = np.minimum(a, b)[distinct], np.maximum(a, b)[distinct]
    dyads = np.unique(lo * g + hi, return_inverse=True)[1]
    n_dyads = int(dyads.max()) + 1 if dyads.size else 0
    dyad_sums = np.stack([np.bincount(dyads, col, n_dyads) for col in scores[distinct].T], axis=1)
    meat = member_sums.T @ member_sums - dyad_sums.T @ dyad_sums
    bread = np.linalg.pinv(exog.T @ exog)
    cov = bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - k))
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return (vecs * np.clip(vals, 0, None)) @ vecs.T, g


def member_jackknife_cov(exog: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Delete-one-member jackknife covariance of OLS coefficients; rows are pairs (a[i], b[i]) of members.

    Deleting member m drops every row it is in, in either role (a self-pair row once); with a == b this is
    the delete-one-cluster jackknife (CR3-type), which stays honest with few clusters where CR1 sandwiches
    run small. Refits come from the full X'X, X'y minus each member's rows. Returns (covariance, G); the
    covariance is all NaN when some refit is not identified (its design is rank-deficient).
    """
    n, k = exog.shape
    g = int(max(a.max(), b.max())) + 1
    m_xx = _member_sums(exog[:, :, None] * exog[:, None, :], a, b, g)
    m_xy = _member_sums(exog * y[:, None], a, b, g)
    full_xx, full_xy = exog.T @ exog, exog.T @ y
    if (np.linalg.matrix_rank(full_xx[None] - m_xx) < k).any():
        return np.full((k, k), np.nan), g
    thetas = np.array([np.linalg.lstsq(full_xx - m_xx[m], full_xy - m_xy[m], rcond=None)[0] for m in range(g)])
    dev = thetas - thetas.mean(axis=0)
    return (g - 1) / g * dev.T @ dev, g


def _unidentified(k: int, unit: str) -> tuple[np.ndarray, str, str]:
    """(covariance, cov_type, method) of a delete-one-``unit`` jackknife with a rank-deficient refit: no
    SEs at all, rather than a sandwich that runs small with few clusters."""
    return (np.full((k, k), np.nan), "none",
            f"no SEs: the delete-one-{unit} jackknife is not identified (leaving out one {unit} leaves a "
            "rank-deficient design)")


def ols(y: Values, X: Mapping[str, Values],
        clusters: Keys | None = None, *, crossed: Pairs | None = None,
        robust: bool = False, unit: str | None = None, pair_cov: PairCov = "jackknife",
        cluster_cov: Literal["jackknife", "cgm"] = "jackknife") -> dict[str, Any]:
    """OLS with an intercept and SEs that respect the unit of analysis (statsmodels fit).

    ``clusters`` (one id per row): delete-one-cluster jackknife (statsmodels ``cluster-jk``;
    ``cluster_cov="cgm"``: the CR1 sandwich, for comparison).
    ``crossed`` (a pair of pool members per row, e.g. proposer and opponent image): delete-one-member
    jackknife (``pair_cov="dyadic"``: dyadic-robust sandwich; ``"twoway"``: two-way CGM, for comparison).
    Intervals use t(G−1). ``robust`` without either: HC3 (rows are independent units). Ids may be
    pre-coded int arrays (−1 = missing). Returns {"coef": {name: {"b", "se", "p", "ci_low", "ci_high"}},
    "n", "r2", "unit", "n_clusters", "method", "cov_type"}; rows with a missing value are dropped;
    constant regressors are dropped and listed under "dropped".
    """
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: its imports cost more than the fits

    # plain arrays, not DataFrames: same fit, ~10x less overhead (metrics are recomputed in bulk)
    yv, cols = _column(list(y)), {k: _column(list(v)) for k, v in X.items()}
    keep = ~np.isnan(yv)
    for col in cols.values():
        keep &= ~np.isnan(col)
    # (n, 2) member codes or (n,) cluster codes, -1 = missing
    pair_codes = _pair_codes(crossed) if crossed is not None else None
    cluster_codes = None
    if pair_codes is not None:
        keep &= (pair_codes >= 0).all(axis=1)
    elif clusters is not None:
        cluster_codes = clusters.astype(np.int64) if _is_codes(clusters) else _codes_missing(list(clusters))
        keep &= cluster_codes >= 0
    n = int(keep.sum())
    names = [k for k in X if np.unique(cols[k][keep]).size > 1]
    dropped = [k for k in X if k not in names]
    base = {"n": n, "unit": unit, "dropped": dropped}
    if n <= len(names) + 1 or not names:
        return {"coef": {}, "r2": None, "n_clusters": None, "method": None, **base,
                "reason": "too few rows or no varying regressor"}
    exog = np.column_stack([np.ones(n)] + [cols[k][keep] for k in names])
    model = OLS(yv[keep], exog)
    cov_type, g, cov = "nonrobust", 0, None  # g: clusters or pool members (0: rows are the units)
    if pair_codes is not None:
        members = np.unique(pair_codes[keep], return_inverse=True)[1].reshape(-1, 2)
        a, b = members[:, 0], members[:, 1]
        g = int(members.max()) + 1
        fit = model.fit()
        if g < 3:
            method = "OLS, classical SEs (fewer than 3 pool members: no robust SEs)"
        elif pair_cov == "twoway":
            fit = model.fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([a, b])}, use_t=True)
            cov_type, method = "cluster", "two-way cluster-robust (CGM) by both members, t(G-1)"
        elif pair_cov == "dyadic":
            cov, g = dyadic_cov(exog, np.asarray(fit.resid), a, b)
            cov_type, method = "dyadic", "dyadic-robust sandwich (rows sharing a member in either role), t(G-1)"
        else:
            cov, g = member_jackknife_cov(exog, yv[keep], a, b)
            cov_type = "member-jackknife"
            method = "delete-one-image jackknife (an image leaves in both roles), t(G-1)"
            if np.isnan(cov).all():
                cov, cov_type, method = _unidentified(exog.shape[1], "image")
    elif cluster_codes is not None:
        groups = np.unique(cluster_codes[keep], return_inverse=True)[1]
        g = int(groups.max()) + 1
        if g > 2 and cluster_cov == "cgm":
            fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
            cov_type, method = "cluster", "one-way cluster-robust sandwich (CGM, CR1), t(G-1)"
        elif g > 2:
            try:
                fit = model.fit(cov_type="cluster-jk", cov_kwds={"groups": groups}, use_t=True)
                cov_type, method = "cluster-jk", "delete-one-cluster jackknife (statsmodels cluster-jk), t(G-1)"
            except ValueError:  # a cluster holds all the variation of a regressor: leaving it out is not identified
                fit = model.fit()
                cov, cov_type, method = _unidentified(exog.shape[1], "cluster")
        else:
            fit, method = model.fit(), "OLS, classical SEs (fewer than 3 clusters: no robust SEs)"
    elif robust:
        fit = model.fit(cov_type="HC3", use_t=True)
        cov_type, method = "HC3", "heteroskedasticity-robust (HC3), t(n-k)"
    else:
        fit, method = model.fit(), "OLS, classical SEs"
    params = np.asarray(fit.params)
    if cov is not None:
        from scipy import stats as sps

        se = np.sqrt(np.diag(cov))
        df = g - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2 * sps.t.sf(np.abs(params / se), df)
        half = sps.t.ppf(0.975, df) * se
        ci = np.column_stack([params - half, params + half])
    else:
        se, p, ci = np.asarray(fit.bse), np.asarray(fit.pvalues), np.asarray(fit.conf_int())
    coef = {
        name: {"b": float(params[i]), "se": float(se[i]), "p": float(p[i]),
               "ci_low": float(ci[i, 0]), "ci_high": float(ci[i, 1])}
        for i, name in enumerate(["const", *names])
    }
    return {"coef": coef, "r2": float(fit.rsquared), "cov_type": cov_type, "n_clusters": g if g else n,
            "method": method, **base, "n": int(fit.nobs)}
