"""Per-episode JSONL log: appended as episodes finish, read back to resume, rewritten sorted at the end.

Records are canonical: they do not say which turns came from the response cache, so a resumed run's
file (and its sha256 in results.json) equals an uninterrupted run's byte for byte. How many model
calls and cache hits each invocation made is kept beside it in a small tally file, so a resumed run's
counts cover the whole run. A SIGKILL can leave at most one partial trailing line (cut off on the next
read) or a temp file of a rewrite (removed on the next read). The file is created with the first
record, so a run that fails before any episode finished leaves no empty file. Records from a
different run spec in the same folder are refused rather than mixed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import jsonlines

from vbench.errors import UsageError
from vbench.types import Record

_NOT_CANONICAL = {"turns": {"__all__": {"cached"}}}


def canonical(record: Record) -> dict[str, Any]:
    """The record as stored for good: nothing that depends on the cache state of one invocation."""
    return record.model_dump(mode="json", exclude=_NOT_CANONICAL)


def _atomic_write(path: Path, tmp: Path, text: str, sync: bool) -> None:
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class RunTally:
    """Model calls and cache hits per invocation of one run spec (``.samples.jsonl.tally.json``)."""

    def __init__(self, samples_path: Path, spec_hash: str):
        self.path = samples_path.with_name(f".{samples_path.name}.tally.json")
        self._tmp = samples_path.with_name(f".{samples_path.name}.tmp-tally{os.getpid()}")
        self.spec_hash = spec_hash
        self.invocations: dict[str, list[int]] = {}
        self._written: tuple[int, int] | None = None
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if data.get("spec_hash") == spec_hash:
                self.invocations = {k: [int(v[0]), int(v[1])] for k, v in data["invocations"].items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            pass  # none yet, or unreadable: counts then start from this invocation

    def update(self, invocation: str, model_calls: int, cache_hits: int) -> None:
        if self._written == (model_calls, cache_hits):
            return
        self.invocations[invocation] = [model_calls, cache_hits]
        text = json.dumps({"spec_hash": self.spec_hash, "invocations": self.invocations}, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, self._tmp, text + "\n", sync=False)
        self._written = (model_calls, cache_hits)

    def register(self, invocation: str) -> None:
        """Make an invocation known before anything is committed under it (see ``totals``)."""
        if invocation not in self.invocations:
            self.update(invocation, 0, 0)

    def totals(self, committed: dict[str, tuple[int, int]] | None = None) -> tuple[int, int]:
        """Sums over invocations. ``committed`` (the response cache's tallies of this run, written in the
        same transaction as its answers) wins wherever it has the invocation: it counts exactly the answers
        a resume will reuse, where this file, written per record, can be behind them (answers cached after
        the last record) or ahead (answers counted in a loop turn that a kill cut before its commit, which
        a resume asks, and counts, again). Only invocations this file registered count, so a deleted output
        folder starts from zero even with an old cache."""
        found = committed or {}
        merged = [found.get(inv, (calls, hits)) for inv, (calls, hits) in self.invocations.items()]
        return sum(calls for calls, _ in merged), sum(hits for _, hits in merged)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.invocations = {}


class SamplesLog:
    def __init__(self, path: Path, spec_hash: str):
        self.path = path
        self.spec_hash = spec_hash
        self.tally = RunTally(path, spec_hash)
        self._fh: IO[str] | None = None
        self._writer: jsonlines.Writer | None = None

    def _tmp_prefix(self) -> str:
        return f".{self.path.name}.tmp"

    def remove_stale_temp(self) -> list[Path]:
        """Temp files of a final rewrite that was killed (call with the output folder locked)."""
        if not self.path.parent.is_dir():
            return []
        stale = [p for p in self.path.parent.iterdir() if p.name.startswith(self._tmp_prefix())]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def read(self) -> list[Record]:
        """Existing records of this spec; cuts a torn last line. Raises UsageError on a foreign spec."""
        self.remove_stale_temp()
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        good_end = raw.rfind(b"\n") + 1
        if good_end < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
        records = []
        for n, line in enumerate(raw[:good_end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = Record.model_validate_json(line)
            except ValueError:
                raise UsageError(f"{self.path}:{n} is not a vbench record; move the file away or pass --overwrite") from None
            if rec.spec_hash != self.spec_hash:
                raise UsageError(
                    f"{self.path.parent} holds samples of a different run (other model, task options, seed or "
                    f"gen_kwargs); use another --output_path or pass --overwrite")
            records.append(rec)
        return records

    def open(self) -> None:
        """Nothing is created until the first record arrives."""
        self._fh = None
        self._writer = None

    def append(self, record: Record) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
            self._writer = jsonlines.Writer(self._fh, compact=True, flush=True)
        self._writer.write(canonical(record))

    def close(self) -> None:
        if self._writer:
            self._writer.close()
        if self._fh:
            self._fh.close()
        self._writer = self._fh = None

    def finalize(self, records: list[Record]) -> None:
        """Rewrite atomically: one canonical record per episode (latest wins), in episode order."""
        latest: dict[str, Record] = {}
        for rec in records:
            latest[rec.episode_id] = rec
        ordered = sorted(latest.values(), key=lambda r: (r.index, r.repeat))
        text = "".join(json.dumps(canonical(r), separators=(",", ":")) + "\n" for r in ordered)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, self.path.with_name(f"{self._tmp_prefix()}{os.getpid()}"), text, sync=True)

    def remove(self) -> None:
        """--overwrite: the samples and the tally of an earlier run go."""
        self.path.unlink(missing_ok=True)
        self.tally.remove()
