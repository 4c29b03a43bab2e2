"""Dataset cards: the hand-written card of each vbench dataset (datasets_card/<name>.md) refreshed from data.

The YAML header keeps what the author wrote (license, task categories, tags) and gets the fields the
Hub derives from the data (features, splits, size category, data-file configs) recomputed with
``datasets``; the body's generated section (between the two markers) summarises this copy of the data.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

START, END = "<!-- vbench:generated -->", "<!-- /vbench:generated -->"
_GENERIC = f"""---
license: other
pretty_name: vbench dataset
tags: [vbench]
---
# vbench dataset

{START}
{END}
"""
FACTORS = ("weapon", "smile", "teeth", "covered_face", "black_clothes", "white_clothes")


def cards_dir() -> Path:
    """datasets_card/ of a source checkout (a wheel falls back to the generic card)."""
    return Path(__file__).resolve().parents[2] / "datasets_card"


def card_template(name: str) -> str:
    path = cards_dir() / f"{name}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else _GENERIC


def size_category(n: int) -> str:
    bins = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
            (10_000_000, "1M<n<10M")]
    return next((label for limit, label in bins if n < limit), "10M<n<100M")


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def summary_markdown(ds, context: dict[str, Any] | None = None) -> str:
    """The generated section: size, columns, factor balance, ratings and build settings."""
    cols = ds.column_names
    lines = [f"This copy holds **{len(ds):,}** rows.", "", "| column | type |", "|---|---|"]
    lines += [f"| `{c}` | {_dtype(ds.features[c])} |" for c in cols]
    present = [f for f in FACTORS if f in cols]
    if present:
        lines += ["", "Factor balance (share of rows with the factor on):", "", "| factor | share |", "|---|---|"]
        for f in present:
            vals = [v for v in ds[f] if v is not None]
            lines.append(f"| `{f}` | {_fmt(sum(map(float, vals)) / len(vals) if vals else None)} |")
    if "human_rating" in cols:
        ratings = [v for v in ds["human_rating"] if v is not None]
        counts = [v for v in ds["human_rating_n"] if v] if "human_rating_n" in cols else []
        lines += ["", f"Human ratings: {len(ratings):,} rows rated"
                  + (f" ({sum(counts):,} ratings, median {statistics.median(counts):g} per image)" if counts else "")
                  + (f", mean {_fmt(statistics.fmean(ratings))}." if ratings else ".")]
    if "model_id" in cols:
        models = sorted({m for m in ds["model_id"] if m})
        lines += ["", "Generated with: " + ", ".join(f"`{m}`" for m in models) + "."]
    build = (context or {}).get("build")
    if build:
        keys = ("template_version", "seed", "height", "width", "steps", "guidance_scale")
        lines += ["", "Build settings: " + ", ".join(f"{k}={build[k]}" for k in keys if k in build) + "."]
    return "\n".join(lines)


def _dtype(feature) -> str:
    import datasets

    if isinstance(feature, (datasets.Image, datasets.Value)):
        return "image" if isinstance(feature, datasets.Image) else str(feature.dtype)
    return type(feature).__name__


def render_card(ds, base: str, *, context: dict[str, Any] | None = None, data_files: str | None = None,
                overrides: dict[str, Any] | None = None) -> str:
    """``base`` card text with its header's data-derived fields and its generated section refreshed."""
    import datasets
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    card = DatasetCard(base)
    data = card.data
    assert isinstance(data, DatasetCardData)  # a DatasetCard's header is always dataset card data
    features = ds.features.copy()
    if "image" in features and isinstance(features["image"], datasets.Image):
        features["image"] = datasets.Image()
    splits = datasets.SplitDict()
    splits.add(datasets.SplitInfo(name="train", num_examples=len(ds)))
    for key in ("dataset_info", "configs"):
        data.pop(key, None)
    DatasetInfosDict({"default": DatasetInfo(features=features, splits=splits)}).to_dataset_card_data(data)
    if data_files:
        MetadataConfigs({"default": {"data_files": [{"split": "train", "path": data_files}]}}).to_dataset_card_data(data)
    data.size_categories = [size_category(len(ds))]
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(data, key, value)
    body = card.text
    section = f"{START}\n{summary_markdown(ds, context)}\n{END}"
    if START in body and END in body:
        body = body[:body.index(START)] + section + body[body.index(END) + len(END):]
    else:
        body = body.rstrip() + "\n\n## This copy\n\n" + section + "\n"
    card.text = body
    return card.content


def write_card_for(folder: str | Path, template: str = "generic", *, ds=None, context: dict[str, Any] | None = None,
                   data_files: str | None = None, overrides: dict[str, Any] | None = None) -> Path:
    """Write ``folder/README.md``: an existing card there is the base, else datasets_card/<template>.md."""
    from vbench.data.atomic import write_atomic
    from vbench.data.loading import load_rows

    folder = Path(folder)
    if ds is None:
        ds = load_rows(str(folder))
    readme = folder / "README.md"
    base = readme.read_text(encoding="utf-8") if readme.is_file() else card_template(template)
    write_atomic(readme, render_card(ds, base, context=context, data_files=data_files, overrides=overrides))
    return readme
