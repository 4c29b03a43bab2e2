"""Load any tabular/image dataset a task may be pointed at, with `datasets`.

Accepted: a Hub id (``org/name``), a local folder in the HF ``imagefolder`` layout (images +
metadata.jsonl/csv with ``file_name``), a folder written by ``save_to_disk``, or parquet files.
Images are left undecoded (bytes/path) so a corrupt file is found per sample, not mid-batch.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from vbench.errors import UsageError

log = logging.getLogger(__name__)


METADATA_FILES = {"metadata.jsonl": "json", "metadata.csv": "csv", "metadata.parquet": "parquet"}
SAVED_MARKERS = ("dataset_dict.json", "state.json")  # a folder written by save_to_disk


def _image_extensions() -> set[str]:
    from PIL import Image

    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def _inside(base: Path, name: str, where: str, absolute_ok: bool = False) -> str:
    """The image path under ``base``; a path escaping it (``../x``, ``/etc/x``) is refused, never read.
    ``absolute_ok``: tables written by ``datasets`` store absolute paths; those must still lie inside."""
    root = base.resolve()
    target = (root / name).resolve()
    if (Path(name).is_absolute() and not absolute_ok) or not target.is_relative_to(root):
        raise UsageError(f"{where}: image path {name!r} points outside the dataset folder {base}; "
                         "paths in the metadata must stay inside it")
    return str(target)


def _imagefolder(path: Path):
    """The imagefolder layout read through its metadata file alone (datasets' json/csv/parquet loader):
    the generic ``imagefolder`` builder globs and fingerprints every image first, ~20× slower."""
    import datasets

    meta = next(m for m in METADATA_FILES if (path / m).exists())
    ds = datasets.load_dataset(METADATA_FILES[meta], data_files=str(path / meta), split="train")
    if "file_name" not in ds.column_names:
        raise UsageError(f"{path / meta} has no 'file_name' column (the imagefolder layout names each image there)")
    images = [{"bytes": None, "path": _inside(path, str(name), f"{path / meta} row {i + 1}")}
              for i, name in enumerate(ds["file_name"])]
    ds = ds.remove_columns(["file_name"] + (["image"] if "image" in ds.column_names else []))
    if not ds.column_names:  # only file_name: add_column cannot join onto a table without columns
        return datasets.Dataset.from_dict({"image": images}, features=datasets.Features(
            {"image": datasets.Image(decode=False)}))
    return ds.add_column("image", images).cast_column("image", datasets.Image(decode=False))


def _check_image_paths(ds, base: Path, where: str) -> None:
    """Image values stored as a path (no bytes) in a local table must point inside its folder.
    Reads only the path and the bytes' validity (pyarrow), never the image bytes themselves."""
    import pyarrow.compute as pc

    if "image" not in ds.column_names:
        return
    column = ds.data.column("image")
    if not hasattr(column.type, "get_field_index") or column.type.get_field_index("path") < 0:
        return
    paths = pc.struct_field(column, "path").to_pylist()
    has_bytes = (pc.is_valid(pc.struct_field(column, "bytes")).to_pylist()
                 if column.type.get_field_index("bytes") >= 0 else [False] * len(paths))
    for i, (path, inline) in enumerate(zip(paths, has_bytes)):
        if path and not inline:
            # read as the loader will: a relative path is relative to the working directory
            _inside(base, str(Path(path).expanduser().resolve()), f"{where} row {i + 1}", absolute_ok=True)


def _plain_images(path: Path):
    """A folder of images and nothing else: one row per image (sorted paths), no other column."""
    import datasets

    exts = _image_extensions()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in exts
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        return None
    images = [{"bytes": None, "path": str(p.resolve())} for p in files]
    return datasets.Dataset.from_dict({"image": images},
                                      features=datasets.Features({"image": datasets.Image(decode=False)}))


def _pick_split(obj, split: str):
    import datasets

    if isinstance(obj, (datasets.DatasetDict, dict)):
        if split in obj:
            return obj[split]
        if len(obj) == 1:
            return next(iter(obj.values()))
        raise UsageError(f"dataset has splits {', '.join(obj)}; none is {split!r}")
    return obj


def load_rows(spec: str, split: str = "train"):
    """Return a ``datasets.Dataset`` for ``spec`` (see module doc); UsageError when it cannot be had.

    Known columns are checked here (see ``vbench.data.columns``), naming the file, row and column."""
    import datasets

    from vbench.data.columns import check_known_columns
    from vbench.data.sources import check_hub_dataset, looks_local, no_such_folder

    datasets.disable_progress_bars()
    path = Path(spec).expanduser()
    where = spec
    try:
        if path.is_dir():
            if any((path / f).exists() for f in SAVED_MARKERS):
                ds = _pick_split(datasets.load_from_disk(str(path)), split)
                _check_image_paths(ds, path, spec)
            elif any((path / m).exists() for m in METADATA_FILES):
                ds = _imagefolder(path)
                where = str(path / next(m for m in METADATA_FILES if (path / m).exists()))
            elif list(path.glob("**/*.parquet")):
                files = sorted(str(p) for p in path.glob("**/*.parquet"))
                ds = datasets.load_dataset("parquet", data_files=files, split="train")
                _check_image_paths(ds, path, spec)
            else:
                ds = _plain_images(path)
                if ds is None:
                    raise UsageError(f"{path} is a folder but holds no images, metadata.jsonl/csv, parquet files "
                                     "or saved dataset")
        elif path.suffix == ".parquet":
            if not path.exists():
                raise UsageError(f"dataset file not found: {path}")
            ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
            _check_image_paths(ds, path.parent, spec)
        elif looks_local(spec):
            raise UsageError(f"dataset not found: {no_such_folder(spec)}")
        elif spec.count("/") == 1:
            check_hub_dataset(spec)
            ds = _pick_split(datasets.load_dataset(spec), split)
        else:
            raise UsageError(f"dataset not found: {spec!r} is neither a local folder/parquet file nor a Hub id (org/name)")
    except UsageError:
        raise
    except Exception as exc:  # network down, unknown repo, unreadable files
        from vbench.data.defaults import unavailable_message

        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UsageError(unavailable_message(spec, f"{exc.__class__.__name__}: {first}")) from None
    if "image" in ds.column_names and isinstance(ds.features.get("image"), datasets.Image):
        ds = ds.cast_column("image", datasets.Image(decode=False))
    check_known_columns(ds, where)
    return ds


def require_columns(ds, spec: str, required: Iterable[str]) -> None:
    missing = [c for c in required if c not in ds.column_names]
    if missing:
        raise UsageError(f"dataset {spec!r} has no column {missing[0]!r} (columns: {', '.join(ds.column_names)})")
