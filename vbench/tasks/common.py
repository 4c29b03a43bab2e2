"""Sample loading shared by image tasks: dataset rows → validated Samples with images in the store."""
from __future__ import annotations

from typing import Any, Iterable

from vbench.data.loading import load_rows, require_columns
from vbench.errors import UsageError
from vbench.images import ImageError, ImageStore
from vbench.tasks.base import Sample


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def load_image_samples(spec: str, store: ImageStore, *, required: Iterable[str] = ("image",),
                       keep: Iterable[str] | None = None, id_column: str | None = None, limit: int | None = None,
                       skip_bad: bool = False) -> tuple[list[Sample], list[dict[str, str]]]:
    """Every row becomes a Sample whose meta holds ``image`` (content hash) and the kept columns.

    A corrupt or missing image stops the run with the file named (UsageError), or, with ``skip_bad``,
    is listed in the returned ``skipped`` and left out.
    """
    ds = load_rows(spec)
    require_columns(ds, spec, required)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    columns = [c for c in (keep if keep is not None else ds.column_names) if c in ds.column_names and c != "image"]
    samples, skipped = [], []
    for i, row in enumerate(ds):
        img = row["image"]
        where = (img or {}).get("path") or f"row {i}"
        sid = str(row[id_column]) if id_column and row.get(id_column) is not None else (
            str(img.get("path")).rsplit("/", 1)[-1] if img and img.get("path") else f"row{i:06d}")
        try:
            part = store.put(img)
        except ImageError as exc:
            if not skip_bad:
                raise UsageError(f"{where}: {exc} (fix the file, or pass --skip_bad_samples to leave it out)") from None
            skipped.append({"sample": sid, "reason": str(exc)})
            continue
        meta = {"image": part.image, "image_id": sid, **{c: _jsonable(row[c]) for c in columns}}
        samples.append(Sample(id=sid, meta=meta))
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):  # ids must be unique for resume
        for n, s in enumerate(samples):
            s.id = f"{s.id}@{n}"
    return samples, skipped
