"""Response caches of sweep jobs: each job writes its own SQLite file on its worker's disk (never one
file shared across machines); the driver merges the jobs' snapshots into its cache (INSERT OR IGNORE:
a response already there is kept, so merging is idempotent and order does not matter)."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from vbench.runners.cache import ResponseCache

CACHE_FILE = "cache.sqlite"


def snapshot(cache_root: Path, dest: Path) -> None:
    """A consistent copy of a job's cache (SQLite backup API, safe under WAL) plus its images."""
    dest.mkdir(parents=True, exist_ok=True)
    src = cache_root / CACHE_FILE
    if src.exists():
        with sqlite3.connect(src) as source, sqlite3.connect(dest / CACHE_FILE) as target:
            source.backup(target)
        target.close()
        source.close()
    if (cache_root / "images").is_dir():
        shutil.copytree(cache_root / "images", dest / "images", dirs_exist_ok=True)


def merge_snapshot(snap: Path, cache_root: Path) -> int:
    """Add a snapshot's responses and images to ``cache_root``; returns the responses added."""
    added = 0
    if (snap / CACHE_FILE).exists():
        ResponseCache(cache_root / CACHE_FILE).close()  # creates the file and table if needed
        db = sqlite3.connect(cache_root / CACHE_FILE, timeout=60)
        try:
            db.execute("ATTACH DATABASE ? AS snap", (str(snap / CACHE_FILE),))
            before = db.total_changes
            with db:
                db.execute("INSERT OR IGNORE INTO main.responses (key, value, created) "
                           "SELECT key, value, created FROM snap.responses")
            added = db.total_changes - before
            db.execute("DETACH DATABASE snap")
        finally:
            db.close()
    images = snap / "images"
    if images.is_dir():
        for path in images.rglob("*"):
            target = cache_root / "images" / path.relative_to(images)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(path, tmp)
                tmp.replace(target)
    return added
