"""Synthetic, clearly labelled short-video "screenshots" for offline demos, tests and benchmarks.

They are NOT the study's screenshots (never released): portrait frames with a platform-coloured UI
bar and random shapes, written as an imagefolder dataset (PNG + metadata.jsonl with platform,
post_date, url, caption) so the corpus builder sees the same layout a real collection would have.
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

PLATFORMS = {"tiktok": (10, 10, 10), "youtube": (220, 20, 30), "instagram": (190, 50, 160)}


def draw_screenshot(rng: random.Random, platform: str, size: tuple[int, int] = (72, 128)) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 6)):
        x0, y0 = rng.randint(0, w - 8), rng.randint(0, h - 8)
        box = [x0, y0, x0 + rng.randint(6, w // 2), y0 + rng.randint(6, h // 3)]
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=fill)
    d.rectangle([0, h - h // 10, w, h], fill=PLATFORMS[platform])          # the app's bottom bar
    d.rectangle([w - w // 8, h // 2, w - 2, h // 2 + w // 8], fill=(250, 250, 250))  # a "like" button
    return img


def build_synthetic_screenshots(out_dir: str | Path, n: int = 200, seed: int = 0, size: tuple[int, int] = (72, 128),
                                caption_every: int = 3) -> Path:
    """Write ``n`` synthetic screenshots + metadata.jsonl (imagefolder layout)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    start = dt.date(2024, 7, 31)
    with open(out / "metadata.jsonl", "w", encoding="utf-8") as fh:
        for i in range(n):
            platform = rng.choice(sorted(PLATFORMS))
            name = f"shot_{i:06d}.png"
            draw_screenshot(rng, platform, size).save(out / name)
            row = {"file_name": name, "platform": platform,
                   "post_date": (start + dt.timedelta(days=rng.randint(0, 92))).isoformat(),
                   "url": f"https://example.invalid/{platform}/{i:06d}",
                   "caption": f"synthetic screenshot {i}" if caption_every and i % caption_every == 0 else None}
            fh.write(json.dumps(row) + "\n")
    return out
