"""Small static SVG charts (radar, bars and grouped bars with CI whiskers, curves) built with ElementTree.

ElementTree escapes every label, so untrusted names cannot break out of the SVG; the files are shown
through ``<img>``, where SVG cannot run scripts at all. No plotting process per chart: a 2,000-run
build stays fast.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Callable, Sequence

from vbench.leaderboard.views import Point

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#3b6ea8", "#c8553d", "#5a9367", "#8e6bb0", "#d4a72c", "#4aa3a2")


def _svg(width: float, height: float, title: str) -> ET.Element:
    root = ET.Element("svg", {"xmlns": SVG_NS, "width": f"{width:.0f}", "height": f"{height:.0f}",
                              "viewBox": f"0 0 {width:.0f} {height:.0f}", "role": "img",
                              "font-family": "sans-serif", "font-size": "11"})
    ET.SubElement(root, "title").text = title
    ET.SubElement(root, "rect", {"width": "100%", "height": "100%", "fill": "#ffffff"})
    return root


def _text(parent: ET.Element, x: float, y: float, text: str, anchor: str = "start", **attrs: str) -> None:
    el = ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": anchor, **attrs})
    el.text = text


def _serialise(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def radar(labels: Sequence[str], values: Sequence[float], title: str, size: int = 260) -> str:
    """Polygon of values in [0, 1] on one spoke per label (the Value-Spectrum radar)."""
    root = _svg(size, size + 24, title)
    _text(root, size / 2, 16, title[:60], "middle", **{"font-weight": "bold"})
    cx, cy, r = size / 2, size / 2 + 20, size / 2 - 48
    n = max(1, len(labels))

    def pt(i: int, frac: float) -> tuple[float, float]:
        ang = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * frac * math.cos(ang), cy + r * frac * math.sin(ang)

    for ring in (0.25, 0.5, 0.75, 1.0):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (pt(i, ring) for i in range(n)))
        ET.SubElement(root, "polygon", {"points": pts, "fill": "none", "stroke": "#ccc"})
    for i, label in enumerate(labels):
        x, y = pt(i, 1.0)
        ET.SubElement(root, "line", {"x1": f"{cx:.1f}", "y1": f"{cy:.1f}", "x2": f"{x:.1f}", "y2": f"{y:.1f}",
                                     "stroke": "#ddd"})
        lx, ly = pt(i, 1.18)
        _text(root, lx, ly + 4, label, "middle", **{"font-size": "10"})
    clipped = [min(1.0, max(0.0, v)) for v in values]
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (pt(i, v) for i, v in enumerate(clipped)))
    ET.SubElement(root, "polygon", {"points": pts, "fill": PALETTE[0], "fill-opacity": "0.3",
                                    "stroke": PALETTE[0], "stroke-width": "2", "class": "series"})
    return _serialise(root)


def bars(points: Sequence[Point], title: str, domain: tuple[float, float] | None = None,
         width: int = 560) -> str:
    """Horizontal bars from zero with 95% CI whiskers; one row per point."""
    row_h, left, right, top = 20, 250, 20, 40
    height = top + row_h * max(1, len(points)) + 30
    root = _svg(width, height, title)
    _text(root, width / 2, 16, title[:90], "middle", **{"font-weight": "bold"})
    nums = [v for p in points for v in (p.value, p.lo, p.hi) if v is not None] + [0.0]
    lo, hi = domain or (min(nums), max(nums))
    x = _zero_axis(root, lo, hi, left, width - left - right, top - 6, height)
    for i, p in enumerate(points):
        y = top + i * row_h
        label = p.label if len(p.label) <= 42 else "…" + p.label[-41:]
        _text(root, left - 6, y + 13, label, "end")
        x0, x1 = sorted((x(0), x(p.value)))
        ET.SubElement(root, "rect", {"x": f"{x0:.1f}", "y": f"{y + 3}", "width": f"{max(1.0, x1 - x0):.1f}",
                                     "height": str(row_h - 6), "fill": PALETTE[i % len(PALETTE)], "class": "bar"})
        if p.lo is not None and p.hi is not None:
            yc = y + row_h / 2
            ET.SubElement(root, "line", {"x1": f"{x(p.lo):.1f}", "y1": f"{yc:.1f}", "x2": f"{x(p.hi):.1f}",
                                         "y2": f"{yc:.1f}", "stroke": "#222", "stroke-width": "1.5"})
    return _serialise(root)


def _zero_axis(root: ET.Element, lo: float, hi: float, left: float, span: float, axis_top: float,
               height: int) -> Callable[[float], float]:
    """Draw the zero line and three ticks of a horizontal bar chart; return the value -> x mapping."""
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1

    def x(v: float) -> float:
        return left + (min(hi, max(lo, v)) - lo) / (hi - lo) * span

    ET.SubElement(root, "line", {"x1": f"{x(0):.1f}", "y1": f"{axis_top:g}", "x2": f"{x(0):.1f}",
                                 "y2": f"{height - 24}", "stroke": "#888"})
    for tick in (lo, (lo + hi) / 2, hi):
        tick = 0.0 if abs(tick) < (hi - lo) * 1e-6 else tick
        _text(root, x(tick), height - 8, f"{tick:.3g}", "middle", fill="#555")
    return x


def _legend(root: ET.Element, names: Sequence[str], x: float, y: float) -> None:
    for i, name in enumerate(names):
        ET.SubElement(root, "rect", {"x": f"{x:.1f}", "y": f"{y - 9:.1f}", "width": "10", "height": "10",
                                     "fill": PALETTE[i % len(PALETTE)]})
        label = name if len(name) <= 28 else name[:27] + "…"
        _text(root, x + 14, y, label)
        x += 24 + 6.5 * len(label)


def grouped_bars(groups: Sequence[str], series: Sequence[tuple[str, Sequence[Point | None]]], title: str,
                 domain: tuple[float, float] | None = None, width: int = 560, paper: Sequence[bool] = ()) -> str:
    """Horizontal bars from zero with 95% CI whiskers: one block per group, one bar per series.

    ``paper[i]`` marks group ``i`` as published numbers (drawn hatched-light, labelled "(paper)").
    """
    bar_h, gap, left, right, top = 12, 8, 170, 20, 48
    n_series = max(1, len(series))
    block = bar_h * n_series + gap
    height = top + block * max(1, len(groups)) + 30
    root = _svg(width, height, title)
    _text(root, width / 2, 16, title[:90], "middle", **{"font-weight": "bold"})
    if len(series) > 1:
        _legend(root, [name for name, _ in series], left, 36)
    nums = [v for _, pts in series for p in pts if p is not None for v in (p.value, p.lo, p.hi) if v is not None]
    lo, hi = domain or (min(nums + [0.0]), max(nums + [0.0]))
    x = _zero_axis(root, lo, hi, left, width - left - right, top - 4, height)
    for g, group in enumerate(groups):
        y0 = top + g * block
        is_paper = g < len(paper) and paper[g]
        label = group if len(group) <= 26 else group[:25] + "…"
        _text(root, left - 6, y0 + block / 2, label + (" (paper)" if is_paper else ""), "end",
              **({"fill": "#8a6d1f"} if is_paper else {}))
        for s, (_, pts) in enumerate(series):
            p = pts[g] if g < len(pts) else None
            if p is None:
                continue
            y = y0 + s * bar_h
            x0, x1 = sorted((x(0), x(p.value)))
            ET.SubElement(root, "rect", {"x": f"{x0:.1f}", "y": f"{y + 1}", "width": f"{max(1.0, x1 - x0):.1f}",
                                         "height": str(bar_h - 2), "fill": PALETTE[s % len(PALETTE)],
                                         "fill-opacity": "0.45" if is_paper else "1", "class": "bar"})
            if p.lo is not None and p.hi is not None:
                yc = y + bar_h / 2
                ET.SubElement(root, "line", {"x1": f"{x(p.lo):.1f}", "y1": f"{yc:.1f}", "x2": f"{x(p.hi):.1f}",
                                             "y2": f"{yc:.1f}", "stroke": "#222", "stroke-width": "1.5",
                                             "class": "ci"})
    return _serialise(root)


def curves(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str,
           domain: tuple[float, float] = (0.0, 1.0), width: int = 360, height: int = 240) -> str:
    """One line per series over ordered x positions (persona-induction curves)."""
    left, right, top, bottom = 44, 16, 44, 30
    root = _svg(width, height, title)
    _text(root, width / 2, 16, title[:60], "middle", **{"font-weight": "bold"})
    _legend(root, [name for name, _ in series], left, 34)
    lo, hi = domain
    n = max(2, len(x_labels))

    def px(i: int) -> float:
        return left + i * (width - left - right) / (n - 1)

    def py(v: float) -> float:
        return top + (1 - (min(hi, max(lo, v)) - lo) / (hi - lo)) * (height - top - bottom)

    for tick in (lo, (lo + hi) / 2, hi):
        ET.SubElement(root, "line", {"x1": str(left), "x2": str(width - right), "y1": f"{py(tick):.1f}",
                                     "y2": f"{py(tick):.1f}", "stroke": "#eee"})
        _text(root, left - 4, py(tick) + 4, f"{tick:.2g}", "end", fill="#555")
    for i, label in enumerate(x_labels):
        _text(root, px(i), height - 10, label, "middle", fill="#555")
    for s, (_, values) in enumerate(series):
        pts = [(px(i), py(v)) for i, v in enumerate(values) if v is not None]
        color = PALETTE[s % len(PALETTE)]
        if len(pts) > 1:
            ET.SubElement(root, "polyline", {"points": " ".join(f"{a:.1f},{b:.1f}" for a, b in pts), "fill": "none",
                                             "stroke": color, "stroke-width": "2", "class": "curve"})
        for a, b in pts:
            ET.SubElement(root, "circle", {"cx": f"{a:.1f}", "cy": f"{b:.1f}", "r": "3", "fill": color})
    return _serialise(root)
