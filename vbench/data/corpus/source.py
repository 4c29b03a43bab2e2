"""Where corpus items come from: an image folder or an HF dataset, read lazily in row ranges.

Images stay undecoded (path or bytes) until the builder decodes one batch; nothing holds the corpus
in memory. Item ids are settled up front (and checked unique) so a resumed build gives the same ids.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbench.data.loading import load_rows
from vbench.errors import UsageError

META_COLUMNS = ("platform", "post_date", "url", "caption")
_LAYOUT_FILES = ("metadata.jsonl", "metadata.csv", "metadata.parquet", "dataset_dict.json", "state.json")


@dataclass
class Source:
    spec: str
    ds: Any                      # datasets.Dataset, image column undecoded
    ids: list[str]
    root: Path | None            # the folder for folder sources (relative paths, platform-from-folder)
    platform_from_folder: bool = False

    @property
    def n(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.spec}\n{self.n}\n".encode())
        for i in self.ids:
            h.update(i.encode() + b"\n")
        return h.hexdigest()[:16]

    def rows(self, start: int, end: int) -> list[dict[str, Any]]:
        """Rows [start, end): id, image ({bytes, path}), platform, post_date, url, caption."""
        batch = self.ds[start:end]
        out = []
        for j in range(end - start):
            img = batch["image"][j] or {}
            row = {"row": start + j, "id": self.ids[start + j], "image": img}
            for c in META_COLUMNS:
                v = batch[c][j] if c in batch else None
                if isinstance(v, _dt.datetime) and v.time() == _dt.time(0) and v.tzinfo is None:
                    v = v.date()  # a date column read as a timestamp
                if isinstance(v, (_dt.date, _dt.datetime)):
                    v = v.isoformat()
                row[c] = None if v is None else str(v)
            if self.platform_from_folder and row["platform"] is None:
                row["platform"] = self._folder_of(img.get("path"))
            out.append(row)
        return out

    def _folder_of(self, path: str | None) -> str | None:
        if not path or self.root is None:
            return None
        parts = Path(os.path.relpath(path, self.root)).parts
        return parts[0] if len(parts) > 1 else None


def _load(spec: str):
    import datasets

    path = Path(spec).expanduser()
    if path.is_dir() and not any((path / f).exists() for f in _LAYOUT_FILES) and not list(path.glob("*.parquet")):
        datasets.disable_progress_bars()
        try:  # a plain folder of images (any depth)
            ds = datasets.load_dataset("imagefolder", data_dir=str(path), split="train")
        except Exception as exc:
            raise UsageError(f"{path}: no images found ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]})") from None
        return ds.cast_column("image", datasets.Image(decode=False)), path
    ds = load_rows(spec)
    return ds, (path if path.is_dir() else None)


def open_source(spec: str, id_column: str | None = None, platform_from_folder: bool = False,
                limit: int | None = None) -> Source:
    """Open and validate a source; bad input fails here, before anything is written."""
    import pyarrow.compute as pc

    ds, root = _load(spec)
    if "image" not in ds.column_names:
        raise UsageError(f"source {spec!r} has no 'image' column (columns: {', '.join(ds.column_names)})")
    n = len(ds) if limit is None else min(limit, len(ds))  # no select(): keeps slices zero-copy
    if n == 0:
        raise UsageError(f"source {spec!r} has no rows")
    ids = _ids(ds, n, spec, id_column, root, pc)
    return Source(spec=spec, ds=ds, ids=ids, root=root, platform_from_folder=platform_from_folder)


def _ids(ds, n: int, spec: str, id_column: str | None, root: Path | None, pc) -> list[str]:
    if id_column is not None and id_column not in ds.column_names:
        raise UsageError(f"--id-column {id_column!r} is not a column of {spec!r} (columns: {', '.join(ds.column_names)})")
    column = id_column or ("id" if "id" in ds.column_names else None)
    if column:
        ids = [None if v is None else str(v) for v in ds.select_columns([column])[:n][column]]
        bad = next((i for i, v in enumerate(ids) if not v), None)
        if bad is not None:
            raise UsageError(f"source {spec!r}: column {column!r} is empty in row {bad}")
        if len(set(ids)) != len(ids):
            dup = next(v for v in ids if ids.count(v) > 1)
            raise UsageError(f"source {spec!r}: id column {column!r} is not unique ({dup!r} repeats)")
        return ids
    paths: list = []
    images = ds.select_columns(["image"]).with_format("arrow")
    for start in range(0, n, 50_000):  # zero-copy slices; only the path strings are materialised
        col = images[start:min(n, start + 50_000)].column("image")
        paths.extend(pc.struct_field(col, "path").to_pylist())
    if root is not None:
        paths = [os.path.relpath(p, root) if p else None for p in paths]
    if all(paths) and len(set(paths)) == len(paths):
        return [p.replace(os.sep, "/") for p in paths]
    return [f"item-{i:07d}" for i in range(n)]
