"""SQLite (WAL) response cache keyed by hash(model fingerprint + request). Errors are never stored.

The cache is only ever a shortcut: a corrupt file (garbage pages, truncated, not a database) is moved
aside with a warning naming both files, and the run goes on with a fresh, empty cache.
"""
from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vbench.types import Response

log = logging.getLogger(__name__)
_CHUNK = 500
_DAMAGE = re.compile(r"malformed|not a database|corrupt|quick_check|disk image", re.I)
Tally = tuple[str, str, int, int]  # (run, invocation, model calls, cache hits)


@dataclass(frozen=True)
class TallyKey:
    """Where a run's call tally is committed with its answers. ``register`` runs once, before the first
    commit, so whoever sums tallies later knows this invocation exists."""

    run: str
    invocation: str
    register: Callable[[], None] = field(default=lambda: None, compare=False)


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.moved_aside: Path | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self._recover(exc)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
            db.execute("CREATE TABLE IF NOT EXISTS tallies (run TEXT NOT NULL, invocation TEXT NOT NULL, "
                       "model_calls INTEGER NOT NULL, cache_hits INTEGER NOT NULL, PRIMARY KEY (run, invocation))")
            db.commit()
            ok = db.execute("PRAGMA quick_check(1)").fetchone()
            if not ok or ok[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {ok[0] if ok else 'no answer'}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        """Move the damaged file (and its WAL/SHM) aside, warn once, start an empty cache."""
        if isinstance(exc, sqlite3.OperationalError) and not _DAMAGE.search(str(exc)):
            raise exc  # locked, busy, read-only: not damage, nothing to move
        try:
            self._db.close()
        except Exception:  # already broken, or never opened
            pass
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                os.replace(src, Path(f"{aside}{suffix}"))
        self.moved_aside = aside
        msg = (f"response cache {self.path} is damaged ({exc}); moved it to {aside} and started an empty cache "
               "(responses will be asked again)")
        log.warning(msg)
        self._db = self._open()

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        try:
            return self._get_many(keys)
        except sqlite3.DatabaseError as exc:
            self._recover(exc)
            return {}

    def _get_many(self, keys: list[str]) -> dict[str, Response]:
        found: dict[str, Response] = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, value in self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                try:
                    found[key] = Response.model_validate_json(value).model_copy(update={"cached": True})
                except ValueError:  # a damaged value: ask the model again rather than trust it
                    log.warning("response cache %s: unreadable entry %s… ignored", self.path, key[:12])
        return found

    def put_many(self, items: list[tuple[str, Response]], tally: Tally | None = None) -> None:
        """Store answers (errors are dropped) and, in the same transaction, a run's call tally, so the count
        of answers paid for never lags the answers a crash leaves behind."""
        rows = [(k, r.model_dump_json(exclude={"cached"}), time.time()) for k, r in items if r.ok]
        if not rows and tally is None:
            return
        try:
            self._write(rows, tally)
        except sqlite3.DatabaseError as exc:
            self._recover(exc)
            self._write(rows, tally)

    def _write(self, rows: list[tuple[str, str, float]], tally: Tally | None) -> None:
        with self._db:  # one transaction: commits both or neither
            if rows:
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)
            if tally is not None:
                self._db.execute("INSERT OR REPLACE INTO tallies VALUES (?, ?, ?, ?)", tally)

    def tallies(self, run: str) -> dict[str, tuple[int, int]]:
        """Model calls and cache hits per invocation of one run, as last committed with its answers."""
        try:
            rows = self._db.execute("SELECT invocation, model_calls, cache_hits FROM tallies WHERE run = ?", (run,))
            return {inv: (int(calls), int(hits)) for inv, calls, hits in rows}
        except sqlite3.DatabaseError:
            return {}

    def forget_tallies(self, run: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM tallies WHERE run = ?", (run,))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()
