"""Per-episode JSONL log: appended as episodes finish, read back to resume, rewritten sorted at the end.

The final file is canonical: it does not say which turns came from the response cache, so a resumed
run's file (and its sha256 in results.json) equals an uninterrupted run's byte for byte. Lines
appended during a run still carry each turn's ``cached`` flag, which lets a resumed run count the model
calls of an interrupted one. A SIGKILL can leave at most one partial trailing line (cut off on the
next read) or a temp file of the final rewrite (removed on the next read). The file is created with
the first record, so a run that fails before any episode finished leaves no empty file. Records from
a different run spec in the same folder are refused rather than mixed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonlines

from vbench.errors import UsageError
from vbench.types import Record

_NOT_CANONICAL = {"turns": {"__all__": {"cached"}}}


def canonical(record: Record) -> dict[str, Any]:
    """The record as stored for good: nothing that depends on the cache state of one invocation."""
    return record.model_dump(mode="json", exclude=_NOT_CANONICAL)


@dataclass
class Tally:
    """Model calls and cache hits of interrupted invocations, read from their appended lines."""

    model_calls: int = 0
    cache_hits: int = 0


class SamplesLog:
    def __init__(self, path: Path, spec_hash: str):
        self.path = path
        self.spec_hash = spec_hash
        self.tally = Tally()
        self._fh = None
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
                data = json.loads(line)
                rec = Record.model_validate(data)
            except ValueError:
                raise UsageError(f"{self.path}:{n} is not a vbench record; move the file away or pass --overwrite") from None
            if rec.spec_hash != self.spec_hash:
                raise UsageError(
                    f"{self.path.parent} holds samples of a different run (other model, task options, seed or "
                    f"gen_kwargs); use another --output_path or pass --overwrite")
            for turn in data.get("turns") or []:
                if "cached" in turn:  # an appended line of an interrupted invocation
                    if turn["cached"]:
                        self.tally.cache_hits += 1
                    else:
                        self.tally.model_calls += 1
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
        self._writer.write(record.model_dump(mode="json"))

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
        tmp = self.path.with_name(f"{self._tmp_prefix()}{os.getpid()}")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def remove(path: Path) -> None:
        if path.exists():
            os.remove(path)
