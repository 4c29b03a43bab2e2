"""Corpus "abundance" per value (Value-Spectrum Figure 2): items within a radius of the keyword vectors.

Counted exactly over the memory-mapped embeddings in chunks. Per keyword: items within ``radius``
(L2 on unit vectors) of that keyword; per value: items within ``radius`` of any of its keywords.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from vbench.data.corpus.index import l2_to_ip
from vbench.data.corpus.store import KeywordTable, value_similarity


def abundance(embeddings: np.ndarray, table: KeywordTable, radius: float = 1.5, chunk: int = 65_536) -> dict:
    thr = l2_to_ip(radius)
    per_kw = np.zeros(len(table.keywords), dtype=np.int64)
    names = table.value_names
    per_value = np.zeros(len(names), dtype=np.int64)
    for start in range(0, embeddings.shape[0], chunk):
        block = np.asarray(embeddings[start:start + chunk], dtype=np.float32)
        per_kw += (block @ table.vectors.T >= thr).sum(axis=0)
        _, sims = value_similarity(block, table)
        per_value += (sims >= thr).sum(axis=0)
    return {"radius": radius, "n_items": int(embeddings.shape[0]),
            "values": {v: int(c) for v, c in zip(names, per_value)},
            "keywords": [{"value": str(v), "keyword": str(k), "count": int(c)}
                         for v, k, c in zip(table.values, table.keywords, per_kw)]}


def write_abundance(result: dict, out_dir: Path, stem: str = "abundance") -> list[str]:
    """abundance.json, abundance.csv (one row per keyword + one per value) and abundance.png."""
    from vbench.results import atomic_write_text

    atomic_write_text(out_dir / f"{stem}.json", json.dumps(result, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["value", "keyword", "count", "radius"])
    for row in result["keywords"]:
        w.writerow([row["value"], row["keyword"], row["count"], result["radius"]])
    for value, count in result["values"].items():
        w.writerow([value, "*", count, result["radius"]])
    atomic_write_text(out_dir / f"{stem}.csv", buf.getvalue())
    abundance_chart(result, out_dir / f"{stem}.png")
    return [f"{stem}.json", f"{stem}.csv", f"{stem}.png"]


def abundance_chart(result: dict, path: Path) -> None:
    """Bubbles per keyword (area ∝ count), grouped by value, beside a bar per value."""
    from matplotlib.figure import Figure

    values = list(result["values"])
    fig = Figure(figsize=(13, 5.5), dpi=100)
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    counts = [r["count"] for r in result["keywords"]] or [0]
    scale = 1400.0 / max(1, max(counts))
    for xi, value in enumerate(values):
        rows = [r for r in result["keywords"] if r["value"] == value]
        color = f"C{xi % 10}"
        for yi, r in enumerate(rows):
            ax.scatter([xi], [yi], s=max(4.0, r["count"] * scale), alpha=0.35, color=color, edgecolors="none")
            ax.annotate(f"{r['keyword']} ({r['count']})", (xi, yi), fontsize=6, ha="center", va="center")
    ax.set_xticks(range(len(values)), values, rotation=40, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.7, len(values) - 0.3)
    ax.set_title(f"items within L2 {result['radius']} of each keyword (bubble area ∝ count)", fontsize=9)
    bx.barh(values[::-1], [result["values"][v] for v in values[::-1]], color="0.45")
    bx.set_title(f"per value (any keyword), N = {result['n_items']}", fontsize=9)
    bx.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
