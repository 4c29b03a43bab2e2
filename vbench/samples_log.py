"""Per-episode JSONL log: appended as episodes finish, read back to resume, rewritten sorted at the end.

A SIGKILL can leave at most one partial trailing line; it is cut off on the next open. Records from a
different run spec in the same folder are refused rather than mixed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import jsonlines

from vbench.errors import UsageError
from vbench.results import atomic_write_text
from vbench.types import Record


class SamplesLog:
    def __init__(self, path: Path, spec_hash: str):
        self.path = path
        self.spec_hash = spec_hash
        self._fh = None
        self._writer: jsonlines.Writer | None = None

    def read(self) -> list[Record]:
        """Existing records of this spec; cuts a torn last line. Raises UsageError on a foreign spec."""
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._writer = jsonlines.Writer(self._fh, compact=True, flush=True)

    def append(self, record: Record) -> None:
        assert self._writer is not None, "open() first"
        self._writer.write(record.model_dump(mode="json"))

    def close(self) -> None:
        if self._writer:
            self._writer.close()
        if self._fh:
            self._fh.close()
        self._writer = self._fh = None

    def finalize(self, records: list[Record]) -> None:
        """Rewrite atomically: one record per episode (latest wins), in episode order."""
        latest: dict[str, Record] = {}
        for rec in records:
            latest[rec.episode_id] = rec
        ordered = sorted(latest.values(), key=lambda r: (r.index, r.repeat))
        text = "".join(json.dumps(r.model_dump(mode="json"), separators=(",", ":")) + "\n" for r in ordered)
        atomic_write_text(self.path, text)

    @staticmethod
    def remove(path: Path) -> None:
        if path.exists():
            os.remove(path)
