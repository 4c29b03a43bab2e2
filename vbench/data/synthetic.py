"""Synthetic, clearly labelled persona images drawn with PIL, for offline demos and tests.

They are NOT the study's avatars: simple figures whose appearance factors (weapon, smile, teeth,
covered face, black/white clothes) are drawn on purpose, with a synthetic "human_rating" that follows
the factors plus noise, so every metric of aggressiveness_rating has something to measure.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

FACTORS = ("weapon", "smile", "teeth", "covered_face", "black_clothes", "white_clothes")
_WEIGHTS = {"weapon": 1.6, "smile": -1.2, "teeth": 0.8, "covered_face": 1.0, "black_clothes": 0.7, "white_clothes": -0.6}


def draw_persona(factors: dict[str, int], rng: random.Random, size: int = 96) -> Image.Image:
    bg = tuple(rng.randint(150, 255) for _ in range(3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    s = size / 96
    cloth = (20, 20, 20) if factors["black_clothes"] else (240, 240, 240) if factors["white_clothes"] else tuple(
        rng.randint(40, 200) for _ in range(3))
    d.rectangle([30 * s, 50 * s, 66 * s, 92 * s], fill=cloth)                       # body
    skin = tuple(rng.randint(120, 230) for _ in range(3))
    d.ellipse([32 * s, 12 * s, 64 * s, 46 * s], fill=skin)                          # head
    if factors["covered_face"]:
        d.rectangle([32 * s, 28 * s, 64 * s, 46 * s], fill=(30, 30, 60))            # mask
    else:
        d.ellipse([39 * s, 22 * s, 44 * s, 27 * s], fill=(0, 0, 0))
        d.ellipse([52 * s, 22 * s, 57 * s, 27 * s], fill=(0, 0, 0))
        if factors["smile"]:
            d.arc([40 * s, 28 * s, 56 * s, 40 * s], 20, 160, fill=(120, 0, 0), width=max(1, int(2 * s)))
        else:
            d.line([41 * s, 36 * s, 55 * s, 36 * s], fill=(60, 0, 0), width=max(1, int(2 * s)))
        if factors["teeth"]:
            d.rectangle([44 * s, 35 * s, 52 * s, 38 * s], fill=(255, 255, 255))
    if factors["weapon"]:
        d.line([70 * s, 20 * s, 70 * s, 80 * s], fill=(160, 160, 170), width=max(2, int(4 * s)))   # blade
        d.line([64 * s, 62 * s, 76 * s, 62 * s], fill=(90, 60, 20), width=max(2, int(3 * s)))     # hilt
    return img


def build_synthetic_avatars(out_dir: str | Path, n: int = 24, seed: int = 0, size: int = 96) -> Path:
    """Write an imagefolder dataset (PNG files + metadata.jsonl) of ``n`` labelled synthetic personas."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        f = {k: rng.randint(0, 1) for k in FACTORS}
        if f["black_clothes"] and f["white_clothes"]:
            f["white_clothes"] = 0
        name = f"persona_{i:04d}.png"
        draw_persona(f, rng, size).save(out / name)
        score = 3.5 + sum(_WEIGHTS[k] * v for k, v in f.items()) + rng.gauss(0, 0.7)
        rows.append({"file_name": name, "id": f"synthetic-{i:04d}", "synthetic": True,
                     "human_rating": round(min(7.0, max(1.0, score)), 2), **f})
    with open(out / "metadata.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return out
