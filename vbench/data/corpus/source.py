"""Where corpus items come from: an image folder or an HF dataset, read lazily in row ranges.

Images stay undecoded (path or bytes) until the builder decodes one batch; nothing holds the corpus
in memory. Item ids are settled up front (and checked unique) so a resumed build gives the same ids.

Folders are listed with one directory walk (``os.scandir``) and their ``metadata.jsonl/csv/parquet``
read with ``datasets``' json/csv/parquet loaders: the generic ``imagefolder`` loader globs the tree
once per split pattern, which takes minutes at 50k files.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbench.data.loading import METADATA_FILES as _METADATA
from vbench.data.loading import SAVED_MARKERS as _SAVED
from vbench.data.loading import load_rows
from vbench.errors import UsageError

META_COLUMNS = ("platform", "post_date", "url", "caption")


@dataclass
class Source:
    spec: str
    ds: Any                      # datasets.Dataset: an undecoded "image" column, or "file_name" under root
    ids: list[str]
    root: Path | None = None     # folder sources: file_name is relative to it
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
            if self.root is not None:
                rel = batch["file_name"][j]
                img = {"bytes": None, "path": str(self.root / rel) if rel else None}
            else:
                img, rel = batch["image"][j] or {}, None
            row = {"row": start + j, "id": self.ids[start + j], "image": img}
            for c in META_COLUMNS:
                row[c] = _text(batch[c][j]) if c in batch else None
            if self.platform_from_folder and row["platform"] is None and rel:
                parts = Path(rel).parts
                row["platform"] = parts[0] if len(parts) > 1 else None
            out.append(row)
        return out


def _text(v: Any) -> str | None:
    if isinstance(v, _dt.datetime) and v.time() == _dt.time(0) and v.tzinfo is None:
        v = v.date()  # a date column read as a timestamp
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    return None if v is None else str(v)


def image_extensions() -> set[str]:
    from PIL import Image

    return {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def list_images(root: Path) -> list[str]:
    """Relative paths of every image file under ``root`` (sorted, any depth, hidden entries skipped)."""
    exts, out, stack = image_extensions(), [], [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in exts:
                    out.append(os.path.relpath(entry.path, root).replace(os.sep, "/"))
    return sorted(out)


def _load(spec: str):
    import datasets

    path = Path(spec).expanduser()
    if not path.is_dir() or any((path / f).exists() for f in _SAVED) or (
            not any((path / m).exists() for m in _METADATA) and list(path.glob("*.parquet"))):
        return load_rows(spec), None
    datasets.disable_progress_bars()
    meta = next((m for m in _METADATA if (path / m).exists()), None)
    if meta is None:
        files = list_images(path)
        if not files:
            raise UsageError(f"{path}: no images found")
        return datasets.Dataset.from_dict({"file_name": files}), path
    try:
        ds = datasets.load_dataset(_METADATA[meta], data_files=str(path / meta), split="train")
    except Exception as exc:
        raise UsageError(f"{path / meta}: cannot read ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]})") from None
    if "file_name" not in ds.column_names:
        raise UsageError(f"{path / meta} has no 'file_name' column (the imagefolder layout names each image there)")
    return ds, path


def open_source(spec: str, id_column: str | None = None, platform_from_folder: bool = False,
                limit: int | None = None) -> Source:
    """Open and validate a source; bad input fails here, before anything is written."""
    ds, root = _load(spec)
    if root is None and "image" not in ds.column_names:
        raise UsageError(f"source {spec!r} has no 'image' column (columns: {', '.join(ds.column_names)})")
    n = len(ds) if limit is None else min(limit, len(ds))  # no select(): keeps slices zero-copy
    if n == 0:
        raise UsageError(f"source {spec!r} has no rows")
    ids = _ids(ds, n, spec, id_column, root is not None)
    return Source(spec=spec, ds=ds, ids=ids, root=root, platform_from_folder=platform_from_folder)


def _ids(ds, n: int, spec: str, id_column: str | None, folder: bool) -> list[str]:
    import pyarrow.compute as pc

    if id_column is not None and id_column not in ds.column_names:
        raise UsageError(f"--id-column {id_column!r} is not a column of {spec!r} (columns: {', '.join(ds.column_names)})")
    column = id_column or ("id" if "id" in ds.column_names else None)
    if column:
        given = [None if v is None else str(v) for v in ds.select_columns([column])[:n][column]]
        bad = next((i for i, v in enumerate(given) if not v), None)
        if bad is not None:
            raise UsageError(f"source {spec!r}: column {column!r} is empty in row {bad}")
        ids = [v for v in given if v]  # all of them
        if len(set(ids)) != len(ids):
            dup = Counter(ids).most_common(1)[0][0]
            raise UsageError(f"source {spec!r}: id column {column!r} is not unique ({dup!r} repeats)")
        return ids
    if folder:
        paths = [str(p) if p else None for p in ds.select_columns(["file_name"])[:n]["file_name"]]
    else:
        paths = []
        images = ds.select_columns(["image"]).with_format("arrow")
        for start in range(0, n, 50_000):  # zero-copy slices; only the path strings are materialised
            col = images[start:min(n, start + 50_000)].column("image")
            paths.extend(pc.struct_field(col, "path").to_pylist())
    named = [p for p in paths if p]
    if len(named) == len(paths) and len(set(named)) == len(named):
        return [p if folder else p.replace(os.sep, "/") for p in named]
    return [f"item-{i:07d}" for i in range(n)]
