"""A local cache of check verdicts, so a rebuild only checks the files that are new.

Keyed by the sha256 of the submission file plus a fingerprint of the checking code (every vbench
source file) and the limits: any change to the code, the limits or the file means a fresh check.
The cache is the builder's own (SQLite under ``$VBENCH_CACHE``); it never leaves the machine.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from functools import lru_cache
from pathlib import Path
from typing import Any

from vbench.leaderboard.schema import Limits


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the vbench package's Python sources and package data the checks read."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for ext in ("*.py", "*.yaml", "*.jsonl") for p in root.rglob(ext)):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_cache_path() -> Path:
    from vbench.images import default_store_dir

    return default_store_dir().parent / "leaderboard" / "verdicts.sqlite"


class VerdictCache:
    """{file sha256 → check outcome} for one (code, limits) combination."""

    def __init__(self, path: Path, limits: Limits):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        limits_id = hashlib.sha256(limits.model_dump_json().encode()).hexdigest()[:8]
        self.prefix = f"{code_fingerprint()}:{limits_id}:"

    def get_many(self, shas: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        keys = [self.prefix + s for s in shas]
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self.conn.execute(f"SELECT key, value FROM verdicts WHERE key IN ({','.join('?' * len(chunk))})",
                                     chunk).fetchall()
            out.update((k[len(self.prefix):], json.loads(v)) for k, v in rows)
        return out

    def put_many(self, items: dict[str, dict[str, Any]]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO verdicts (key, value) VALUES (?, ?)",
                                  [(self.prefix + sha, json.dumps(v)) for sha, v in items.items()])

    def close(self) -> None:
        self.conn.close()
