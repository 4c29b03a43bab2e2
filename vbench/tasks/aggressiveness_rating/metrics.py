"""aggressiveness_rating metrics: the unit of analysis is the persona image.

Repeats of one image are not new evidence about how its rating tracks the human one, so correlations
and the factor OLS use one row per image (the mean of its repeats); means and the parse rate resample
whole images (cluster bootstrap, fixed seed). The headline is the paper's number: the sampled
temperature-0 rating's Pearson r with the human ratings; the log-prob expected rating is reported beside it.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

from vbench.analysis import stats
from vbench.tasks.prompts import load_prompts
from vbench.types import Record

FACTORS: list[str] = load_prompts("vbench.tasks.aggressiveness_rating")["factors"]
UNIT = "persona image"
IMAGE_UNIT = "persona image (repeats averaged)"


def image_key(record: Record) -> Hashable:
    """The image a record rated: content hash, else id, else its sample (episode id before the repeat)."""
    return record.sample.get("image") or record.sample.get("id") or record.episode_id.split("#")[0]


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"true": 1.0, "yes": 1.0, "1": 1.0, "false": 0.0, "no": 0.0, "0": 0.0}.get(value.strip().lower())
    return float(value)


def per_image(records: list[Record]) -> dict[Hashable, dict[str, Any]]:
    """One row per image: mean sampled and expected rating over its repeats, human rating, factors."""
    rows: dict[Hashable, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(image_key(r), {"rating": [], "expected_rating": [], "sample": r.sample})
        row["rating"].append(r.outputs.get("rating"))
        row["expected_rating"].append(r.outputs.get("expected_rating"))
    for row in rows.values():
        row["rating"] = _mean(row["rating"])
        row["expected_rating"] = _mean(row["expected_rating"])
        row["human"] = _as_float(row["sample"].get("human_rating"))
    return rows


def compute_metrics(records: list[Record]) -> dict[str, Any]:
    """The metrics block (pure function of the records; bootstrap seed fixed, never the run's --seed)."""
    m: dict[str, Any] = {}
    keys = [image_key(r) for r in records]
    has_sampled = any("rating" in r.outputs for r in records)
    has_choice = any("expected_rating" in r.outputs for r in records)
    images = per_image(records)
    m["unit"] = UNIT
    m["n_images"] = len(images)
    m["n_episodes"] = len(records)
    if has_sampled:
        sampled = [r.outputs.get("rating") for r in records]
        m["mean_rating"] = stats.mean(sampled, keys, unit=UNIT).model_dump()
        m["rating_distribution"] = stats.distribution(sampled, range(1, 8))
        m["parse_rate"] = stats.rate([r.outputs.get("parse_ok") for r in records], keys, unit=UNIT).model_dump()
    if has_choice:
        m["mean_expected_rating"] = stats.mean([r.outputs.get("expected_rating") for r in records], keys,
                                               unit=UNIT).model_dump()
    primary = "rating" if has_sampled else "expected_rating"
    m["primary_score"] = primary
    rows = list(images.values())
    human = [row["human"] for row in rows]
    if any(h is not None for h in human):
        for label, present in (("rating", has_sampled), ("expected_rating", has_choice)):
            if present:
                scores = [row[label] for row in rows]
                m[f"pearson_human_{label}"] = stats.pearson(scores, human, unit=IMAGE_UNIT).model_dump()
                m[f"spearman_human_{label}"] = stats.spearman(scores, human, unit=IMAGE_UNIT).model_dump()
    present_factors = [f for f in FACTORS if any(row["sample"].get(f) is not None for row in rows)]
    if present_factors:
        X = {f: [_as_float(row["sample"].get(f)) for row in rows] for f in present_factors}
        m["ols_factors"] = stats.ols([row[primary] for row in rows], X, robust=True, unit=IMAGE_UNIT)
        if primary == "rating" and has_choice:  # the expected rating's regression beside the headline's
            m["ols_factors_expected_rating"] = stats.ols([row["expected_rating"] for row in rows], X, robust=True,
                                                         unit=IMAGE_UNIT)
    return m
