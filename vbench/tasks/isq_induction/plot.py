"""Line plot (and CSV) of yes-rate and alignment over the scroll index, per strategy and platform."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from vbench.types import Record

PNG, CSV = "isq_curves.png", "isq_curves.csv"


def curves(records: list[Record], window: int = 10) -> pd.DataFrame:
    """Long table: platform, strategy, scroll (1-based), yes_rate, alignment (trial means, trailing mean)."""
    rows = []
    for r in records:
        targets = set(r.sample.get("persona_values") or [])
        for i, (w, v) in enumerate(zip(r.outputs["watched"], r.outputs["item_values"]), 1):
            rows.append((r.sample["platform"], r.sample["strategy"], i, float(w), float(v in targets)))
    df = pd.DataFrame(rows, columns=["platform", "strategy", "scroll", "yes_rate", "alignment"])
    if df.empty:
        return df
    df = df.groupby(["platform", "strategy", "scroll"], sort=True).mean().reset_index()
    for col in ("yes_rate", "alignment"):
        df[f"{col}_smoothed"] = df.groupby(["platform", "strategy"])[col].transform(
            lambda s: s.rolling(window, min_periods=1).mean())
    return df


def write_curves(records: list[Record], out_dir: Path, window: int = 10) -> list[str]:
    df = curves(records, window)
    if df.empty:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(out_dir / CSV, index=False)
    platforms = list(dict.fromkeys(r.sample["platform"] for r in records))
    strategies = list(dict.fromkeys(r.sample["strategy"] for r in records))
    fig, axes = plt.subplots(2, len(platforms), figsize=(4.2 * len(platforms), 6.4), sharex=True, sharey="row",
                             squeeze=False)
    for j, platform in enumerate(platforms):
        sub = df[df["platform"] == platform]
        for strategy in strategies:
            g = sub[sub["strategy"] == strategy]
            axes[0, j].plot(g["scroll"], g["yes_rate_smoothed"], label=strategy)
            axes[1, j].plot(g["scroll"], g["alignment_smoothed"], label=strategy)
        axes[0, j].set_title(platform)
        axes[1, j].set_xlabel("scroll")
    axes[0, 0].set_ylabel(f"yes-rate (trailing mean of {window})")
    axes[1, 0].set_ylabel("alignment with persona values")
    for ax in axes.ravel():
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(out_dir / PNG, dpi=110)
    plt.close(fig)
    return [PNG, CSV]


__all__ = ["curves", "write_curves"]
