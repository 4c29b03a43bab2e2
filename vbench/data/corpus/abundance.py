"""Corpus "abundance" per value (Value-Spectrum Figure 2): items within a radius of the keyword vectors.

Counted exactly over the memory-mapped embeddings in chunks. Per keyword: items within the radius
(L2 on unit vectors) of that keyword; per value: items within it of any of its keywords.

Two radii are reported. The paper's 1.5 is kept for comparison, but on unit vectors L2 ranges over
[0, 2] and L2 > sqrt(2) means a negative cosine: CLIP image-text similarities are small and positive
(L2 around 1.2-1.3), so at 1.5 every item counts for every keyword and the figure shows only N. The
calibrated radius is a quantile (default 10%) of every item's distance to its nearest keyword: it
lies inside this corpus's own distance range, so the counts rank values by how much of the corpus
sits close to their keywords.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from vbench.data.corpus.index import l2_to_ip
from vbench.data.corpus.store import KeywordTable, value_similarity

PAPER_RADIUS = 1.5
CALIBRATION_QUANTILE = 0.10


def _blocks(embeddings: np.ndarray, chunk: int):
    for start in range(0, embeddings.shape[0], chunk):
        yield np.asarray(embeddings[start:start + chunk], dtype=np.float32)


def _counts(embeddings: np.ndarray, table: KeywordTable, radius: float, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    thr = l2_to_ip(radius)
    per_kw = np.zeros(len(table.keywords), dtype=np.int64)
    per_value = np.zeros(len(table.value_names), dtype=np.int64)
    for block in _blocks(embeddings, chunk):
        per_kw += (block @ table.vectors.T >= thr).sum(axis=0)
        per_value += (value_similarity(block, table)[1] >= thr).sum(axis=0)
    return per_kw, per_value


def _table(table: KeywordTable, radius: float, per_kw: np.ndarray, per_value: np.ndarray) -> dict:
    return {"radius": radius, "values": {v: int(c) for v, c in zip(table.value_names, per_value)},
            "keywords": [{"value": str(v), "keyword": str(k), "count": int(c)}
                         for v, k, c in zip(table.values, table.keywords, per_kw)]}


def nearest_keyword_l2(embeddings: np.ndarray, table: KeywordTable, chunk: int = 65_536) -> np.ndarray:
    """Every item's L2 distance to its nearest keyword vector."""
    sims = np.concatenate([(b @ table.vectors.T).max(axis=1) for b in _blocks(embeddings, chunk)] or [np.zeros(0)])
    return np.sqrt(np.clip(2.0 - 2.0 * sims, 0.0, None))


def abundance(embeddings: np.ndarray, table: KeywordTable, radius: float = PAPER_RADIUS,
              quantile: float = CALIBRATION_QUANTILE, chunk: int = 65_536) -> dict:
    """Counts at ``radius`` (top level, the paper's figure) and at the calibrated radius (``calibrated``)."""
    nearest = nearest_keyword_l2(embeddings, table, chunk)
    out = {**_table(table, radius, *_counts(embeddings, table, radius, chunk)), "n_items": int(embeddings.shape[0])}
    out["share_within_radius"] = float((nearest <= radius).mean()) if nearest.size else None
    if nearest.size:
        cal = float(np.quantile(nearest, quantile))
        out["calibrated"] = {**_table(table, cal, *_counts(embeddings, table, cal, chunk)), "quantile": quantile,
                             "rule": f"{quantile:.0%} quantile of the items' nearest-keyword L2 distance"}
        out["nearest_l2"] = {q: float(np.quantile(nearest, p)) for q, p in (("min", 0), ("median", 0.5), ("max", 1))}
    return out


def write_abundance(result: dict, out_dir: Path, stem: str = "abundance") -> list[str]:
    """abundance.json, abundance.csv (one row per keyword + one per value, per radius) and abundance.png."""
    from vbench.results import atomic_write_text

    atomic_write_text(out_dir / f"{stem}.json", json.dumps(result, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["value", "keyword", "count", "radius", "radius_kind"])
    for kind, block in (("paper", result), ("calibrated", result.get("calibrated"))):
        if not block:
            continue
        for row in block["keywords"]:
            w.writerow([row["value"], row["keyword"], row["count"], block["radius"], kind])
        for value, count in block["values"].items():
            w.writerow([value, "*", count, block["radius"], kind])
    atomic_write_text(out_dir / f"{stem}.csv", buf.getvalue())
    abundance_chart(result, out_dir / f"{stem}.png")
    return [f"{stem}.json", f"{stem}.csv", f"{stem}.png"]


def abundance_chart(result: dict, path: Path) -> None:
    """Bubbles per keyword at the calibrated radius (area ∝ count), beside bars per value at both radii."""
    from matplotlib.figure import Figure

    block = result.get("calibrated") or result
    values = list(result["values"])
    fig = Figure(figsize=(13, 5.5), dpi=100)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    counts = [r["count"] for r in block["keywords"]] or [0]
    scale = 1400.0 / max(1, max(counts))
    for xi, value in enumerate(values):
        rows = [r for r in block["keywords"] if r["value"] == value]
        color = f"C{xi % 10}"
        for yi, r in enumerate(rows):
            ax.scatter([xi], [yi], s=max(4.0, r["count"] * scale), alpha=0.35, color=color, edgecolors="none")
            ax.annotate(f"{r['keyword']} ({r['count']})", (xi, yi), fontsize=6, ha="center", va="center")
    ax.set_xticks(range(len(values)), values, rotation=40, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.7, len(values) - 0.3)
    ax.set_title(f"items within L2 {block['radius']:.3g} of each keyword (bubble area ∝ count)", fontsize=9)
    y = np.arange(len(values))[::-1]
    bx.barh(y + 0.2, [result["values"][v] for v in values], height=0.4, color="0.7",
            label=f"paper radius {result['radius']:g}")
    if "calibrated" in result:
        bx.barh(y - 0.2, [block["values"][v] for v in values], height=0.4, color="0.3",
                label=f"calibrated {block['radius']:.3g}")
    bx.set_yticks(y, values)
    bx.legend(fontsize=7, loc="lower right")
    bx.set_title(f"per value (any keyword), N = {result['n_items']}", fontsize=9)
    bx.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
