"""Model vs model on the same screenshots: per-value paired tests, Holm-adjusted over the values.

    from vbench.tasks.value_spectrum.compare import compare_runs
    compare_runs("results/model-a/value_spectrum", "results/model-b/value_spectrum")

Both runs must have answered the same split. Screenshots are matched by their image (content hash);
per screenshot the repeats are averaged, and per value the paired differences (b − a) are tested with
a paired t-test; the p-values of all values are Holm-adjusted together (statsmodels multipletests).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from vbench.tasks.value_spectrum.metrics import per_screenshot
from vbench.tasks.value_spectrum.task import ValueSpectrum, read_direct_samples
from vbench.types import Record

METHOD = "paired t-test on per-screenshot mean scores (b − a) per value, Holm-adjusted over values"


def _scores(records: list[Record], key: str) -> dict[str, dict[Any, float]]:
    rows = [r for r in ValueSpectrum._rows(records) if r.get(key) is not None and r.get("value") is not None]
    out: dict[str, dict[Any, float]] = {}
    for value in dict.fromkeys(r["value"] for r in rows):
        out[value] = per_screenshot([(i, r) for i, r in enumerate(rows) if r["value"] == value], key)
    return out


def compare_records(a: list[Record], b: list[Record], key: str = "interested") -> dict[str, Any]:
    """Per value: mean of a and b over the shared screenshots, their difference, p and Holm-adjusted p."""
    from scipy import stats as sps
    from statsmodels.stats.multitest import multipletests

    sa, sb = _scores(a, key), _scores(b, key)
    values: dict[str, dict[str, Any]] = {}
    for value in [v for v in sa if v in sb]:
        shared = [c for c in sa[value] if c in sb[value]]
        x, y = np.array([sa[value][c] for c in shared]), np.array([sb[value][c] for c in shared])
        p = None
        if x.size >= 2 and np.std(y - x) > 0:
            p = float(sps.ttest_rel(y, x).pvalue)
            p = p if math.isfinite(p) else None
        values[value] = {"n_screenshots": int(x.size), "a": float(x.mean()) if x.size else None,
                         "b": float(y.mean()) if y.size else None,
                         "diff": float((y - x).mean()) if x.size else None, "p": p, "p_holm": None, "significant": None}
    tested = [v for v in values if values[v]["p"] is not None]
    if tested:
        reject, adjusted, _, _ = multipletests([values[v]["p"] for v in tested], alpha=0.05, method="holm")
        for v, rj, adj in zip(tested, reject, adjusted):
            values[v].update(p_holm=float(adj), significant=bool(rj))
    return {"score": key, "method": METHOD, "unit": "screenshot", "values": values,
            "n_significant": sum(bool(v["significant"]) for v in values.values())}


def compare_runs(run_a: str | Path, run_b: str | Path, key: str = "interested") -> dict[str, Any]:
    """``compare_records`` over two run folders (or their samples.jsonl); key "interested" or "p_yes"."""
    return compare_records(read_direct_samples(str(run_a)), read_direct_samples(str(run_b)), key)
