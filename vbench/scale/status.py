"""The sweep's live status table (cells done / running / failed, ETA) and its final summary."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from vbench.scale.plan import Cell


@dataclass
class CellState:
    cell: Cell
    state: str = "pending"  # pending | running | merging | done | skipped | failed
    jobs_done: int = 0
    seconds: float = 0.0
    episodes: int = 0
    error: str | None = None
    started: float | None = None


@dataclass
class Board:
    cells: list[CellState]
    parallelism: int = 1
    t0: float = field(default_factory=time.perf_counter)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("done", "skipped", "running", "failed", "pending")}
        for c in self.cells:
            out["running" if c.state == "merging" else c.state] += 1
        return out

    def eta_seconds(self) -> float | None:
        """Remaining jobs x mean job time so far / workers (None before the first job finished)."""
        finished = [c for c in self.cells if c.state in ("done", "failed") and c.jobs_done]
        if not finished:
            return None
        per_job = sum(c.seconds for c in finished) / sum(c.jobs_done for c in finished)
        left = sum(len(c.cell.jobs) - c.jobs_done for c in self.cells if c.state in ("pending", "running"))
        return per_job * left / max(1, self.parallelism) if left else None

    def headline(self) -> str:
        n = self.counts()
        eta = self.eta_seconds()
        return (f"cells: {n['done'] + n['skipped']}/{len(self.cells)} done ({n['skipped']} skipped), "
                f"{n['running']} running, {n['failed']} failed, {n['pending']} pending; "
                f"elapsed {time.perf_counter() - self.t0:.0f}s" + (f", ETA {eta:.0f}s" if eta is not None else ""))

    def table(self, final: bool = False) -> Table:
        t = Table(title=("sweep summary" if final else "sweep") + f" — {self.headline()}", title_justify="left")
        for col in ("model", "task", "jobs", "state", "episodes", "seconds"):
            t.add_column(col, justify="right" if col in ("jobs", "episodes", "seconds") else "left", no_wrap=True)
        t.add_column("note", no_wrap=True, overflow="ellipsis", max_width=60)
        for c in self.cells:
            note = c.error or ""
            t.add_row(c.cell.model_label, c.cell.task, f"{c.jobs_done}/{len(c.cell.jobs)}", c.state,
                      str(c.episodes or ""), f"{c.seconds:.1f}" if c.seconds else "", note)
        return t

    def print_summary(self, console: Console) -> None:
        console.print(self.table(final=True))
