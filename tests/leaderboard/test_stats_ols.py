"""stats.ols (array implementation, used in bulk by metric recomputation) against statsmodels' formula API."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
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
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["g"])[0]}) if clustered else model.fit()
    assert got["n"] == len(df) == n - 2 and got["dropped"] == ["flat"]
    assert got["r2"] == pytest.approx(fit.rsquared)
    assert got["cov_type"] == ("cluster" if clustered else "nonrobust")
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
