"""Where a sweep's results live: a local (or shared, e.g. NFS) folder, or an fsspec URL.

With a URL (``s3://bucket/sweep``, ``gs://...``, ``hf://datasets/ORG/NAME/sweep``, ``file:///...``) a
job works in a local temp folder: it first pulls the run folder it writes (so an interrupted shard
resumes), and pushes it back when it ends, finished or not. Files are copied one by one with fsspec.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vbench.output_lock import LOCK_NAME


def is_url(root: str) -> bool:
    return "://" in root


def _fs(root: str):  # noqa: ANN202 - an fsspec filesystem and the root path inside it
    import fsspec

    return fsspec.core.url_to_fs(root)


def exists(root: str, rel: str) -> bool:
    if not is_url(root):
        return (Path(root) / rel).exists()
    fs, base = _fs(root)
    return bool(fs.exists(f"{base}/{rel}"))


def read_text(root: str, rel: str) -> str | None:
    try:
        if not is_url(root):
            return (Path(root) / rel).read_text(encoding="utf-8")
        fs, base = _fs(root)
        with fs.open(f"{base}/{rel}", "r", encoding="utf-8") as fh:
            return fh.read()
    except (OSError, FileNotFoundError):
        return None


def write_text(root: str, rel: str, text: str) -> None:
    """One small file (a marker, a pointer) written in place, without staging its folder."""
    if not is_url(root):
        from vbench.results import atomic_write_text

        atomic_write_text(Path(root) / rel, text)
        return
    fs, base = _fs(root)
    fs.makedirs(f"{base}/{rel}".rsplit("/", 1)[0], exist_ok=True)
    with fs.open(f"{base}/{rel}", "w", encoding="utf-8") as fh:
        fh.write(text)


def pull(root: str, rel: str, local: Path) -> None:
    """Copy ``root/rel`` (a folder, if it exists) into ``local/rel``."""
    fs, base = _fs(root)
    remote = f"{base}/{rel}".rstrip("/")
    if not fs.exists(remote):
        return
    for path in fs.find(remote):
        target = local / rel / Path(path).relative_to(remote)
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(target))


def push(local: Path, rel: str, root: str) -> None:
    """Copy ``local/rel`` (a folder) to ``root/rel``, file by file (the output lock stays behind)."""
    fs, base = _fs(root)
    src = local / rel
    if not src.is_dir():
        return
    for path in sorted(p for p in src.rglob("*") if p.is_file() and p.name != LOCK_NAME):
        target = f"{base}/{rel}/{path.relative_to(src).as_posix()}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), target)


def remove(root: str, rel: str) -> None:
    if not is_url(root):
        shutil.rmtree(Path(root) / rel, ignore_errors=True)
        return
    fs, base = _fs(root)
    if fs.exists(f"{base}/{rel}"):
        fs.rm(f"{base}/{rel}", recursive=True)


@contextmanager
def staged(root: str, rel: str) -> Iterator[Path]:
    """A local folder standing for ``root``, holding ``rel`` as it is there; written back on exit."""
    if not is_url(root):
        yield Path(root)
        return
    tmp = Path(tempfile.mkdtemp(prefix="vbench-stage-"))
    try:
        pull(root, rel, tmp)
        yield tmp
    finally:
        try:
            push(tmp, rel, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
