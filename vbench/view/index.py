"""A small SQLite index of a samples.jsonl: byte offsets plus the fields the viewer filters on.

Built once per file version (size + mtime) and cached under ``$VBENCH_CACHE/view/``; a page then
reads only its own lines by offset, so a 25,000-game run opens as fast as a 10-game one. Until the
index exists, the first page is read straight from the head of the file (see :func:`head_page`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from vbench.images import default_store_dir
from vbench.view.facets import Facets, facets_of

INDEX_VERSION = "1"
SORTS = {"order": "ord", "disagreement": "disagreement DESC NULLS LAST, ord", "value": "value, keyword, ord"}


def cache_dir() -> Path:
    return default_store_dir().parent / "view"


@dataclass
class Query:
    """What a page asks for; every field optional."""

    errors: str = ""  # "" | "only" | "hide"
    parse: str = ""  # "" | "fail" | "ok"
    level: str = ""
    value: str = ""
    round: str = ""  # ultimatum: the round to show (and, with ``flag``, where the flag must be)
    flag: str = ""  # ultimatum: counter | reject | nonanswer
    q: str = ""  # full-text search
    sort: str = "order"
    page: int = 1

    def is_plain(self) -> bool:
        return not any((self.errors, self.parse, self.level, self.value, self.round, self.flag, self.q)) \
            and self.sort == "order"

    def params(self, **change: Any) -> dict[str, str]:
        d = {k: str(getattr(self, k)) for k in ("errors", "parse", "level", "value", "round", "flag", "q", "sort")}
        d.update({k: str(v) for k, v in change.items()})
        d["page"] = str(change.get("page", self.page))
        return {k: v for k, v in d.items() if v and not (k == "sort" and v == "order") and not (k == "page" and v == "1")}


def _fts_query(text: str) -> str:
    """Each word as a quoted prefix term (user text never reaches FTS syntax)."""
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    return " ".join(f'"{w}"*' for w in words[:12])


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for every complete line."""
    off = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.endswith(b"\n"):
                yield off, line
            off += len(line)


class SampleIndex:
    """Offsets + facets of one samples.jsonl."""

    def __init__(self, samples: Path, task: str, root: Path | None = None):
        self.samples = Path(samples)
        self.task = task
        st = self.samples.stat()
        key = f"{INDEX_VERSION}|{self.samples.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        self.path = (root or cache_dir()) / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.sqlite"
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- building ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.path.exists()

    def build(self) -> None:
        """Scan the file once and write the index atomically (a concurrent build is harmless)."""
        with self._lock:
            if self.ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            con = sqlite3.connect(tmp)
            try:
                con.executescript("""
                    PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
                    CREATE TABLE ep(ord INTEGER PRIMARY KEY, off INTEGER, len INTEGER, episode_id TEXT, status TEXT,
                                    parse_fail INTEGER, levels TEXT, value TEXT, keyword TEXT, flags TEXT,
                                    disagreement REAL);
                    CREATE VIRTUAL TABLE ft USING fts5(body, content='');
                    CREATE TABLE facet(name TEXT, v TEXT, n INTEGER);
                """)
                rows, texts = [], []
                counts: dict[tuple[str, str], int] = {}
                for ord_, (off, line) in enumerate(iter_lines(self.samples)):
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        rec = {"episode_id": f"line {ord_ + 1}", "status": "error", "error": "unreadable line"}
                    f: Facets = facets_of(self.task, rec)
                    rows.append((ord_, off, len(line), f.episode_id, f.status, int(f.parse_fail),
                                 " " + " ".join(f.levels) + " ", f.value, f.keyword, " " + " ".join(f.flags) + " ",
                                 f.disagreement))
                    texts.append((ord_, f.text))
                    for name, vals in (("level", f.levels), ("value", [f.value] if f.value else []),
                                       ("round", f.rounds), ("flag", sorted({x.split(":")[1] for x in f.flags}))):
                        for v in vals:
                            counts[(name, v)] = counts.get((name, v), 0) + 1
                    if len(rows) >= 2000:
                        self._flush(con, rows, texts)
                self._flush(con, rows, texts)
                con.executemany("INSERT INTO facet VALUES (?,?,?)", [(k[0], k[1], n) for k, n in counts.items()])
                con.commit()
            finally:
                con.close()
            os.replace(tmp, self.path)

    @staticmethod
    def _flush(con: sqlite3.Connection, rows: list, texts: list) -> None:
        con.executemany("INSERT INTO ep VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        con.executemany("INSERT INTO ft(rowid, body) VALUES (?,?)", texts)
        rows.clear()
        texts.clear()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            self.build()
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.con = con
        return con

    # -- reading ----------------------------------------------------------------------------
    def facet_values(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for name, v, n in self._con().execute("SELECT name, v, n FROM facet"):
            out.setdefault(name, []).append((v, n))
        for name in out:
            out[name].sort(key=lambda x: (not x[0].lstrip("-").isdigit(), int(x[0]) if x[0].lstrip("-").isdigit() else 0, x[0]))
        return out

    def _where(self, q: Query) -> tuple[str, list[Any]]:
        cond, args = [], []
        if q.errors == "only":
            cond.append("status = 'error'")
        elif q.errors == "hide":
            cond.append("status != 'error'")
        if q.parse == "fail":
            cond.append("parse_fail = 1")
        elif q.parse == "ok":
            cond.append("parse_fail = 0")
        if q.level:
            cond.append("levels LIKE ?")
            args.append(f"% {q.level} %")
        if q.value:
            cond.append("value = ?")
            args.append(q.value)
        if q.flag:  # a round alone only focuses the dialogue on it; with a flag, the flag must be in that round
            cond.append("flags LIKE ?")
            args.append(f"% r{q.round or '%'}:{q.flag} %")
        if q.q.strip() and _fts_query(q.q):
            cond.append("ord IN (SELECT rowid FROM ft WHERE ft MATCH ?)")
            args.append(_fts_query(q.q))
        return (" WHERE " + " AND ".join(cond)) if cond else "", args

    def select(self, q: Query, per_page: int) -> tuple[int, list[int]]:
        """(total matching, ordinals of this page)."""
        where, args = self._where(q)
        con = self._con()
        total = con.execute(f"SELECT count(*) FROM ep{where}", args).fetchone()[0]
        order = SORTS.get(q.sort, "ord")
        rows = con.execute(f"SELECT ord FROM ep{where} ORDER BY {order} LIMIT ? OFFSET ?",
                           [*args, per_page, (max(1, q.page) - 1) * per_page]).fetchall()
        return total, [r[0] for r in rows]

    def records(self, ords: list[int]) -> list[dict[str, Any]]:
        if not ords:
            return []
        con = self._con()
        marks = ",".join("?" * len(ords))
        where = {o: (off, n) for o, off, n in con.execute(f"SELECT ord, off, len FROM ep WHERE ord IN ({marks})", ords)}
        out = []
        with open(self.samples, "rb") as fh:
            for o in ords:
                off, n = where[o]
                fh.seek(off)
                out.append(_load(fh.read(n), o))
        return out

    def ords_of(self, episode_ids: list[str]) -> dict[str, int]:
        if not episode_ids:
            return {}
        marks = ",".join("?" * len(episode_ids))
        return {e: o for o, e in self._con().execute(
            f"SELECT ord, episode_id FROM ep WHERE episode_id IN ({marks})", episode_ids)}

    def count(self) -> int:
        return self._con().execute("SELECT count(*) FROM ep").fetchone()[0]

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def _load(line: bytes, ord_: int) -> dict[str, Any]:
    try:
        rec = json.loads(line)
        if not isinstance(rec, dict):
            raise ValueError
    except ValueError:
        rec = {"episode_id": f"line {ord_ + 1}", "status": "error", "error": "unreadable line in samples.jsonl"}
    rec["_ord"] = ord_
    return rec


def head_page(samples: Path, per_page: int) -> list[dict[str, Any]]:
    """The first page straight from the file, for the moment before the index exists."""
    out = []
    for ord_, (_, line) in enumerate(iter_lines(samples)):
        if ord_ >= per_page:
            break
        out.append(_load(line, ord_))
    return out
