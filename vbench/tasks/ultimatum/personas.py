"""Persona images and their aggressiveness levels, so the rating task and the games chain.

The score behind a level is, in order: a dataset column holding levels (``level_column``), a named
aggressiveness_rating run's ``samples.jsonl`` (``levels_from``, matched by image content hash), or a
rating column (``rating_column``, default ``human_rating``). Scores are binned into ``n_levels`` levels
by rounding (1–7 scale) or by equal-frequency quantiles.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.tasks.common import load_image_samples


class Persona(BaseModel):
    image: str
    image_id: str
    rating: float | None = None
    level: int | None = None

    def info(self) -> dict:
        return {"image": self.image, "image_id": self.image_id, "rating": self.rating, "level": self.level}


def ratings_from_run(path: str | Path, field: str = "auto") -> dict[str, float]:
    """Mean model rating per image hash from an aggressiveness_rating run (samples.jsonl or its folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "samples.jsonl"
    if not p.is_file():
        raise UsageError(f"levels_from: {path} is not an aggressiveness_rating samples.jsonl (or a folder with one)")
    sums: dict[str, list[float]] = {}
    with open(p, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                image, outputs = rec["sample"]["image"], rec.get("outputs") or {}
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UsageError(f"levels_from: {p}:{n} is not a vbench aggressiveness_rating record") from None
            keys = ("expected_rating", "rating") if field == "auto" else (field,)
            value = next((outputs[k] for k in keys if outputs.get(k) is not None), None)
            if value is not None:
                sums.setdefault(image, []).append(float(value))
    if not sums:
        raise UsageError(f"levels_from: {p} holds no ratings (field {field!r})")
    return {k: sum(v) / len(v) for k, v in sums.items()}


def bin_levels(ratings: list[float | None], n_levels: int, how: Literal["round", "quantile"]) -> list[int | None]:
    """Scores → levels 1..n_levels; ``round`` keeps the 1–7 scale, ``quantile`` makes equal-size bins."""
    if how == "round":
        return [None if r is None else min(n_levels, max(1, math.floor(r + 0.5))) for r in ratings]
    present = sorted((r, i) for i, r in enumerate(ratings) if r is not None)
    out: list[int | None] = [None] * len(ratings)
    for rank, (_, i) in enumerate(present):
        out[i] = 1 + rank * n_levels // len(present)
    return out


def load_personas(dataset: str, store: ImageStore, *, rating_column: str = "human_rating",
                  level_column: str | None = None, levels_from: str | None = None, rating_field: str = "auto",
                  n_levels: int = 7, binning: Literal["round", "quantile"] = "round", limit: int | None = None,
                  skip_bad: bool = False, id_column: str | None = None) -> tuple[list[Persona], list[dict[str, str]]]:
    keep = [c for c in (rating_column, level_column, "id") if c]
    samples, skipped = load_image_samples(dataset, store, required=["image"] + ([level_column] if level_column else []),
                                          keep=keep, id_column=id_column, limit=limit, skip_bad=skip_bad)
    if not samples:
        raise UsageError(f"dataset {dataset!r} has no usable persona images")
    if level_column:
        ratings = [_num(s.meta.get(level_column), level_column, s.id) for s in samples]
    elif levels_from:
        by_image = ratings_from_run(levels_from, rating_field)
        ratings = [by_image.get(s.meta["image"]) for s in samples]
    else:
        ratings = [_num(s.meta.get(rating_column), rating_column, s.id) for s in samples]
    if level_column:
        levels = [None if r is None else int(r) for r in ratings]
        bad = next((lv for lv in levels if lv is not None and not 1 <= lv <= n_levels), None)
        if bad is not None:
            raise UsageError(f"column {level_column!r} holds level {bad}, outside 1-{n_levels}")
    else:
        levels = bin_levels(ratings, n_levels, binning)
    personas = [Persona(image=s.meta["image"], image_id=s.id, rating=r, level=lv)
                for s, r, lv in zip(samples, ratings, levels)]
    return personas, skipped


def _num(value, column: str, sid: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"sample {sid}: column {column!r} must be a number, got {value!r}") from None
