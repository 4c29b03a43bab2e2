"""One run at a time per output folder: a second run writing the same folder is refused, not mixed.

An OS file lock (``filelock``: released by the kernel when the holder dies, so a killed run never
leaves the folder locked). The lock file holds the holder's pid for the refusal message and is removed
on release; folders the run created are removed again when it fails before writing anything.
"""
from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from vbench.errors import UsageError

LOCK_NAME = ".vbench.lock"


class OutputLock:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / LOCK_NAME
        self._created = [p for p in [self.out_dir, *self.out_dir.parents] if not p.exists()]
        self._lock: FileLock | None = None

    def __enter__(self) -> "OutputLock":
        self.out_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            self._remove_created_dirs()
            holder = ""
            try:
                pid = self.path.read_text().strip()
                holder = f" (pid {pid})" if pid else ""
            except OSError:
                pass
            raise UsageError(f"another vbench run{holder} is writing {self.out_dir}; wait for it to finish or use "
                             "another --output_path") from None
        self._lock = lock
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self.path.unlink(missing_ok=True)
            self._lock.release()
            self._lock = None
        self._remove_created_dirs()

    def _remove_created_dirs(self) -> None:
        """Folders this run created and left empty (a run that failed before its first record)."""
        for path in self._created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break
