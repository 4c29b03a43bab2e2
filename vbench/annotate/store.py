"""SQLite storage of human ratings: raters, every rating event (never overwritten), the dataset it belongs to.

WAL mode with one connection per thread and a process-wide write lock, so many raters posting at once
queue briefly instead of failing; a rating is acknowledged only after its transaction committed.
"""
from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from vbench.errors import UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (rater_id TEXT PRIMARY KEY, added_at REAL NOT NULL);
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


class UnknownRater(LookupError):
    pass


class RatingStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = threading.Lock()
        db = self._db()
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.commit()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
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
            cur = db.executemany("INSERT OR IGNORE INTO raters VALUES (?, ?)", [(r, time.time()) for r in raters])
            db.commit()
            return cur.rowcount

    def raters(self) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT rater_id FROM raters ORDER BY rater_id")]

    def is_rater(self, rater: str) -> bool:
        return self._db().execute("SELECT 1 FROM raters WHERE rater_id=?", (rater,)).fetchone() is not None

    # -- ratings ---------------------------------------------------------------------------
    def add(self, r: Rating, *, is_check: bool, expected: int | None) -> int:
        """Store one rating; returns its row id once committed."""
        if not self.is_rater(r.rater):
            raise UnknownRater(r.rater)
        with self._write:
            db = self._db()
            cur = db.execute("INSERT INTO ratings (rater_id, item_id, rating, is_check, expected, shown_at, submitted_at,"
                             " client_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (r.rater, r.item, r.rating, int(is_check), expected, r.shown_at, time.time(), r.client_ms))
            db.commit()
            return int(cur.lastrowid)

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
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
