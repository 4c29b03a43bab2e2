"""SQLite storage of human ratings: raters, every rating event (never overwritten), the dataset it belongs to.

WAL mode, synchronous=FULL (a committed rating survives a crash or power loss). Ratings are written by
one writer thread with group commit: whatever arrived while the previous transaction was syncing goes
into the next one, so many raters posting at once cost one fsync per batch, not per rating. A rating
is acknowledged only after the transaction holding it committed. Reads use one connection per thread.
"""
from __future__ import annotations

import queue
import secrets
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field, field_validator

from vbench.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (rater_id TEXT PRIMARY KEY, added_at REAL NOT NULL, link_key TEXT);
CREATE TABLE IF NOT EXISTS ratings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rater_id TEXT NOT NULL REFERENCES raters(rater_id),
  item_id TEXT NOT NULL,
  rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 7),
  is_check INTEGER NOT NULL DEFAULT 0,
  expected INTEGER,
  shown_at REAL,
  submitted_at REAL NOT NULL,
  client_ms INTEGER
);
CREATE INDEX IF NOT EXISTS ratings_by_rater ON ratings (rater_id, is_check, item_id);
"""


class Rating(BaseModel):
    """One submitted rating, validated at the boundary (form or JSON)."""

    rater: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, max_length=256)
    rating: int = Field(ge=1, le=7)
    shown_at: float | None = None
    client_ms: int | None = Field(None, ge=0)

    @field_validator("rating", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Only an integer (JSON) or its digits (form): 4.0, 4.5, true or "4.0" are refused, never rounded."""
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError("not a whole number")
        if isinstance(value, str):
            if not value.strip().isdigit():
                raise ValueError("not a whole number")
            return int(value.strip())
        return value


def _new_key() -> str:
    """An unguessable link key (128 bits): knowing a rater's id is not enough to rate as them."""
    return secrets.token_urlsafe(16)


class UnknownRater(LookupError):
    pass


_INSERT = ("INSERT INTO ratings (rater_id, item_id, rating, is_check, expected, shown_at, submitted_at, client_ms)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_MAX_GROUP = 512


def _insert(db: sqlite3.Connection, row: tuple) -> int:
    rid = db.execute(_INSERT, row).lastrowid
    assert rid is not None  # set by every INSERT that succeeds
    return rid


class _GroupWriter:
    """The single writer thread: drains the queue into one transaction per fsync."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self.connect = connect
        self.q: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="ratings-writer", daemon=True)
        self.thread.start()

    def submit(self, row: tuple) -> int:
        fut: Future = Future()
        self.q.put((row, fut))
        return fut.result()

    def _loop(self) -> None:
        db = self.connect()
        while True:
            first = self.q.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < _MAX_GROUP:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)
                    break
                batch.append(nxt)
            try:
                ids = [_insert(db, row) for row, _ in batch]
                db.commit()
            except Exception:  # never leave a waiting request without an answer
                db.rollback()
                for row, fut in batch:  # one bad row must not fail the others
                    try:
                        rid = _insert(db, row)
                        db.commit()
                        fut.set_result(rid)
                    except Exception as exc:
                        db.rollback()
                        fut.set_exception(exc)
                continue
            for (_, fut), rid in zip(batch, ids):
                fut.set_result(rid)
        db.close()

    def close(self) -> None:
        self.q.put(None)
        self.thread.join(timeout=30)


class RatingStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = threading.Lock()
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        if "link_key" not in {row[1] for row in db.execute("PRAGMA table_info(raters)")}:
            db.execute("ALTER TABLE raters ADD COLUMN link_key TEXT")  # a database from before rater links
        for (rater,) in db.execute("SELECT rater_id FROM raters WHERE link_key IS NULL").fetchall():
            db.execute("UPDATE raters SET link_key=? WHERE rater_id=?", (_new_key(), rater))
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS raters_by_key ON raters (link_key)")
        db.commit()
        self._writer: _GroupWriter | None = None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    # -- dataset binding -------------------------------------------------------------------
    def bind(self, fingerprint: str, dataset: str) -> None:
        """Tie the database to one dataset (by its item ids); another dataset is refused."""
        with self._write:
            db = self._db()
            row = db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
            if row is None:
                db.executemany("INSERT INTO meta VALUES (?, ?)", [("fingerprint", fingerprint), ("dataset", dataset),
                                                                  ("salt", secrets.token_hex(8))])
                db.commit()
            elif row[0] != fingerprint:
                other = (db.execute("SELECT value FROM meta WHERE key='dataset'").fetchone() or ["?"])[0]
                raise UsageError(f"{self.path} holds ratings of another dataset ({other}); use another --db")

    def meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    # -- raters ----------------------------------------------------------------------------
    def add_raters(self, raters: list[str]) -> int:
        bad = [r for r in raters if not r or len(r) > 64 or r != r.strip()]
        if bad:
            raise UsageError(f"--raters: invalid rater id {bad[0]!r} (1-64 characters, no surrounding spaces)")
        with self._write:
            db = self._db()
            cur = db.executemany("INSERT OR IGNORE INTO raters VALUES (?, ?, ?)",
                                 [(r, time.time(), _new_key()) for r in raters])
            db.commit()
            return cur.rowcount

    def raters(self) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT rater_id FROM raters ORDER BY rater_id")]

    def links(self) -> dict[str, str]:
        """rater id → the secret key of the rater's personal link (``/r/KEY``)."""
        return dict(self._db().execute("SELECT rater_id, link_key FROM raters ORDER BY rater_id").fetchall())

    def rater_for_key(self, key: str) -> str | None:
        if not key or len(key) > 128:
            return None
        row = self._db().execute("SELECT rater_id FROM raters WHERE link_key=?", (key,)).fetchone()
        return row[0] if row else None

    def is_rater(self, rater: str) -> bool:
        return self._db().execute("SELECT 1 FROM raters WHERE rater_id=?", (rater,)).fetchone() is not None

    # -- ratings ---------------------------------------------------------------------------
    def add(self, r: Rating, *, is_check: bool, expected: int | None) -> int:
        """Store one rating; returns its row id once committed."""
        if not self.is_rater(r.rater):
            raise UnknownRater(r.rater)
        with self._write:
            if self._writer is None:
                self._writer = _GroupWriter(self._connect)
        return self._writer.submit((r.rater, r.item, r.rating, int(is_check), expected, r.shown_at, time.time(),
                                    r.client_ms))

    def rated_items(self, rater: str) -> set[str]:
        rows = self._db().execute("SELECT DISTINCT item_id FROM ratings WHERE rater_id=? AND is_check=0", (rater,))
        return {r[0] for r in rows}

    def checks_done(self, rater: str) -> int:
        return self._db().execute("SELECT COUNT(*) FROM ratings WHERE rater_id=? AND is_check=1", (rater,)).fetchone()[0]

    def count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM ratings").fetchone()[0]

    def frame(self):
        """Every rating as a pandas DataFrame (for export and analysis)."""
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM ratings ORDER BY id", self._db())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
