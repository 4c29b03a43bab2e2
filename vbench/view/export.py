"""`vbench view RUN_DIR --export DIR`: the same pages as flat static files, with thumbnails copied in.

Built in a temporary folder beside DIR and swapped in, so a failed export never leaves half a site;
an existing DIR is replaced only when it is an earlier export (never a user's other files).
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vbench.errors import UsageError
from vbench.view.index import Query
from vbench.view.runs import RunInfo
from vbench.view.server import ARTIFACTS, STATIC, static_bytes
from vbench.view.site import Site, per_page
from vbench.view.thumbs import THUMB, jpeg

MARKER = ".vbench-view-export"
FULL_EXPORT = 640  # detail images in the export: big enough to read, small enough to share


def check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UsageError(f"--export {out}: exists and is not a vbench view export; choose a new or empty folder")


def _digests(obj, out: set[str]) -> None:
    """Every image hash a record mentions (sample, turns, messages, transcript)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("image", "images") and isinstance(v, str) and len(v) == 64:
                out.add(v)
            elif k == "images" and isinstance(v, list):
                out.update(x for x in v if isinstance(x, str) and len(x) == 64)
            else:
                _digests(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _digests(v, out)


def export(runs: list[RunInfo], out: Path, workers: int = 4) -> dict[str, int]:
    """Write the static site; returns counts (pages, episodes, images, missing images)."""
    out = Path(out)
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts = _write(runs, tmp, workers)
        (tmp / MARKER).write_text("written by vbench view --export\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def _write(runs: list[RunInfo], root: Path, workers: int) -> dict[str, int]:
    site = Site(runs, static=True)
    (root / "img").mkdir()
    for name in STATIC:
        (root / name).write_bytes(static_bytes(name))
    wanted: dict[str, str] = {}  # digest -> store root
    for run in runs:
        idx = site.indexes[run.run_id]
        idx.build()
        total = idx.count()
        for start in range(0, total, 500):
            digests: set[str] = set()
            _digests(idx.records(list(range(start, min(total, start + 500)))), digests)
            for d in sorted(digests):
                wanted.setdefault(d, str(run.images))

    def copy(item: tuple[str, str]) -> bool:
        digest, store = item
        small, big = jpeg(store, digest, THUMB), jpeg(store, digest, FULL_EXPORT)
        if small is None or big is None:
            return False
        (root / "img" / f"{digest}.t.jpg").write_bytes(small)
        (root / "img" / f"{digest}.jpg").write_bytes(big)
        return True

    items = sorted(wanted.items())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(copy, items))
    site.urls.missing = {d for (d, _), ok in zip(items, found) if not ok}  # these link to the placeholder

    (root / "index.html").write_text(site.runs_page(), encoding="utf-8")
    n_pages = n_eps = 0
    for run in runs:
        idx = site.indexes[run.run_id]
        total = idx.count()
        for p in range(1, max(1, math.ceil(total / per_page(run.task))) + 1):
            (root / f"{run.run_id}-p{p}.html").write_text(site.samples_page(run, Query(page=p)), encoding="utf-8")
            n_pages += 1
        for ord_ in range(total):
            (root / f"{run.run_id}-e{ord_}.html").write_text(site.episode_page(run, ord_) or "", encoding="utf-8")
            n_eps += 1
        for name in ARTIFACTS:
            if (run.path / name).is_file():
                shutil.copyfile(run.path / name, root / f"{run.run_id}-{name}")
        idx.close()
    return {"runs": len(runs), "pages": n_pages, "episodes": n_eps, "images": len(items) - len(site.urls.missing),
            "missing_images": len(site.urls.missing)}
