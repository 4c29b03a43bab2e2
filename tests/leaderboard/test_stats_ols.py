"""stats.ols (array implementation, used in bulk by metric recomputation) against statsmodels' formula API,
and the pair covariances against statsmodels where they reduce to one-way clustering."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from vbench.analysis import stats


@pytest.mark.parametrize("clustered", [False, True])
def test_ols_matches_statsmodels_formula(clustered):
    rng = np.random.default_rng(1)
    n = 60
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, size=n).astype(float)
    y = 1.5 + 2.0 * x1 - 0.7 * x2 + rng.normal(size=n)
    groups = [f"g{i % 7}" for i in range(n)]
    y_in = [None if i == 3 else float(v) for i, v in enumerate(y)]
    x1_in = [None if i == 5 else float(v) for i, v in enumerate(x1)]
    got = stats.ols(y_in, {"x1": x1_in, "x2": list(x2), "flat": [1.0] * n},
                    clusters=groups if clustered else None)
    df = pd.DataFrame({"y": y_in, "x1": x1_in, "x2": x2, "g": groups}).dropna()
    model = smf.ols("y ~ x1 + x2", df)
    # clustered: delete-one-cluster jackknife with t(G-1) intervals (few clusters: CR1 sandwiches run small)
    fit = (model.fit(cov_type="cluster-jk", cov_kwds={"groups": pd.factorize(df["g"])[0]}, use_t=True) if clustered
           else model.fit())
    assert got["n"] == len(df) == n - 2 and got["dropped"] == ["flat"]
    assert got["r2"] == pytest.approx(fit.rsquared)
    assert got["cov_type"] == ("cluster-jk" if clustered else "nonrobust")
    assert got["n_clusters"] == (7 if clustered else n - 2)
    ci = fit.conf_int()
    for name, ref in (("const", "Intercept"), ("x1", "x1"), ("x2", "x2")):
        c = got["coef"][name]
        assert c["b"] == pytest.approx(fit.params[ref])
        assert c["se"] == pytest.approx(fit.bse[ref])
        assert c["p"] == pytest.approx(fit.pvalues[ref])
        assert (c["ci_low"], c["ci_high"]) == (pytest.approx(ci.loc[ref, 0]), pytest.approx(ci.loc[ref, 1]))


def test_ols_too_few_rows():
    out = stats.ols([1.0, None, 2.0], {"a": [1.0, 2.0, None]})
    assert out["coef"] == {} and out["n"] == 1 and out["r2"] is None


def _data(n=240, g=15, seed=2):
    rng = np.random.default_rng(seed)
    members = rng.integers(0, g, size=n)
    x = rng.normal(size=n) + 0.5 * rng.normal(size=g)[members]
    y = 1.0 + 0.8 * x + rng.normal(size=n) + rng.normal(size=g)[members]
    return members, x, y


def test_pair_covariances_reduce_to_one_way_clustering_on_self_pairs():
    """Rows (i, i) share exactly their member: dyadic = one-way CR1, member jackknife = cluster-jk."""
    members, x, y = _data()
    pairs = [(f"m{m}", f"m{m}") for m in members]
    ref_model = sm.OLS(y, sm.add_constant(x))
    for pair_cov, cov_type in (("dyadic", "cluster"), ("jackknife", "cluster-jk")):
        got = stats.ols(list(y), {"x": list(x)}, crossed=pairs, pair_cov=pair_cov)
        ref = ref_model.fit(cov_type=cov_type, cov_kwds={"groups": members}, use_t=True)
        assert got["coef"]["x"]["se"] == pytest.approx(ref.bse[1], rel=1e-9), pair_cov
        assert got["coef"]["x"]["ci_low"] == pytest.approx(ref.conf_int()[1, 0], rel=1e-9)
        assert got["n_clusters"] == len(set(members))


def test_pair_jackknife_drops_an_image_in_both_roles():
    members, x, y = _data()
    rng = np.random.default_rng(5)
    other = rng.integers(0, 15, size=members.size)
    pairs = np.column_stack([members, other])
    got = stats.ols(list(y), {"x": list(x)}, crossed=pairs)
    thetas = []
    for m in range(15):  # refit without every row the image is in, as proposer or as opponent
        keep = (members != m) & (other != m)
        thetas.append(sm.OLS(y[keep], sm.add_constant(x[keep])).fit().params[1])
    thetas = np.array(thetas)
    assert got["coef"]["x"]["se"] == pytest.approx(np.sqrt(14 / 15 * ((thetas - thetas.mean()) ** 2).sum()))
    assert got["cov_type"] == "member-jackknife" and got["n_clusters"] == 15


def test_pair_twoway_matches_statsmodels_two_groups():
    members, x, y = _data()
    other = np.random.default_rng(6).integers(0, 15, size=members.size)
    got = stats.ols(list(y), {"x": list(x)}, crossed=np.column_stack([members, other]), pair_cov="twoway")
    ref = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([members, other])},
                                            use_t=True)
    assert got["coef"]["x"]["se"] == pytest.approx(ref.bse[1])


def test_ols_robust_hc3_for_independent_units():
    _, x, y = _data()
    got = stats.ols(list(y), {"x": list(x)}, robust=True)
    assert got["coef"]["x"]["se"] == pytest.approx(sm.OLS(y, sm.add_constant(x)).fit(cov_type="HC3").bse[1])


def test_a_jackknife_that_is_not_identified_gives_no_interval_not_a_crash():
    """A regressor that varies within one cluster only: leaving that cluster out leaves a rank-deficient
    design, so the delete-one-cluster jackknife has no answer. The estimate stays; no SE is invented."""
    rng = np.random.default_rng(4)
    groups = [f"g{i % 4}" for i in range(40)]
    x = [float(i % 3) if g == "g0" else 0.0 for i, g in enumerate(groups)]
    y = [1.0 + 0.5 * xi + float(e) for xi, e in zip(x, rng.normal(size=40))]
    got = stats.ols(y, {"x": x}, clusters=groups)
    assert got["cov_type"] == "none" and "not identified" in got["method"]
    assert np.isfinite(got["coef"]["x"]["b"])
    assert all(np.isnan(got["coef"]["x"][k]) for k in ("se", "p", "ci_low", "ci_high"))


def test_a_member_jackknife_that_is_not_identified_gives_no_interval():
    """The pair design's delete-one-image jackknife: a regressor that varies only in games of one image."""
    rng = np.random.default_rng(5)
    pairs = [(i % 5, (i + 1 + i // 5) % 5) for i in range(50)]
    x = [1.0 if (a == 0 and i % 2) else 0.0 for i, (a, _b) in enumerate(pairs)]
    y = [0.5 * xi + float(e) for xi, e in zip(x, rng.normal(size=50))]
    got = stats.ols(y, {"x": x}, crossed=np.array(pairs))
    assert got["cov_type"] == "none" and "not identified" in got["method"]
    assert np.isnan(got["coef"]["x"]["se"]) and np.isfinite(got["coef"]["x"]["b"])
    varied = stats.ols(y, {"x": [float(p[0] % 2) for p in pairs]},
                       crossed=np.array(pairs))
    assert varied["cov_type"] == "member-jackknife" and np.isfinite(varied["coef"]["x"]["se"])
