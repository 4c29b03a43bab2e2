"""Radar chart of preference per value (like Value-Spectrum Figure 5), with matplotlib's Agg canvas."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def radar_chart(series: dict[str, dict[str, float]], order: list[str], path: Path, title: str = "") -> Path:
    """One closed polygon per series over the values in ``order`` (scores in [0, 1])."""
    from matplotlib.figure import Figure
    from matplotlib.projections.polar import PolarAxes

    labels = [v for v in order if any(v in s for s in series.values())]
    angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False).tolist()
    fig = Figure(figsize=(6.5, 7.2), dpi=100)
    ax = fig.add_subplot(projection="polar")
    assert isinstance(ax, PolarAxes)
    ax.set_theta_offset(np.pi / 2)  # first value at the top, clockwise
    ax.set_theta_direction(-1)
    for i, (name, scores) in enumerate(series.items()):
        vals = [scores.get(v, np.nan) for v in labels]
        ax.plot(angles + angles[:1], vals + vals[:1], color=f"C{i}", linewidth=1.8, label=name)
        ax.fill(angles + angles[:1], vals + vals[:1], color=f"C{i}", alpha=0.12)
    ax.set_xticks(angles, labels, fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["0.25", "0.5", "0.75", "1"], fontsize=7)
    if title:
        ax.set_title(title, fontsize=10, pad=18)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    return path
