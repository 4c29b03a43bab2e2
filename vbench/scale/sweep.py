"""`vbench sweep`: every (model, task) cell as a job on an executor, resumable and failure-isolated.

A finished cell (``<model>/<task>/.sweep-cell.json`` naming the same settings, beside its results.json)
is skipped on re-run; any other cell runs, and `vbench eval`'s resume makes a partial one continue where
it stopped. Shards of a cell are merged by the driver once all have finished. The output folder is laid
out like `vbench eval --output_path` (``<model>/<task>/``), so `vbench submit` takes it as is.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.live import Live

from vbench.errors import UsageError
from vbench.images import STORE_POINTER, ImageStore, default_store_dir, write_store_pointer
from vbench.scale import caches, storage
from vbench.scale.executors import Executor, LocalExecutor, RayExecutor
from vbench.scale.jobs import JobOutcome
from vbench.scale.plan import Cell, JobSpec, SweepConfig, plan_cells
from vbench.scale.shards import shard_dir_name
from vbench.scale.status import Board, CellState

CELL_MARK = ".sweep-cell.json"


def pointer_text(store: ImageStore) -> str:
    """image_store.json as `vbench eval` writes it (so a Ray run's folder equals a local run's)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_store_pointer(Path(tmp), store)
        return (Path(tmp) / STORE_POINTER).read_text(encoding="utf-8")


def cell_finished(output: str, cell: Cell) -> bool:
    text = storage.read_text(output, f"{cell.run_dir}/{CELL_MARK}")
    try:
        key = json.loads(text)["cell_key"] if text else None
    except (ValueError, KeyError, TypeError):
        key = None
    return key == cell.jobs[0].cell_key and storage.exists(output, f"{cell.run_dir}/results.json")


def make_executor(name: str, cfg: SweepConfig, address: str | None, num_cpus: int | None) -> Executor:
    if name == "local":
        if address:
            raise UsageError("--ray-address needs --executor ray")
        return LocalExecutor(cfg.output_path, cfg.cache_dir)
    return RayExecutor(cfg.output_path, address, cfg.max_retries, num_cpus)


class Sweep:
    """Drives one sweep: submits jobs, folds outcomes into cells, merges shards and caches."""

    def __init__(self, cfg: SweepConfig, cells: list[Cell], executor: Executor, console: Console, live: bool):
        self.cfg, self.executor, self.console, self.live = cfg, executor, console, live
        self.board = Board([CellState(c) for c in cells], parallelism=executor.parallelism)
        self.by_name = {s.cell.name: s for s in self.board.cells}
        self.cache_root = Path(cfg.cache_dir) if cfg.cache_dir else default_store_dir().parent
        self.store_root = self.cache_root / "images" if cfg.cache_dir else default_store_dir()
        self.pointer = pointer_text(ImageStore(self.store_root))

    def run(self) -> Board:
        for state in self.board.cells:
            if cell_finished(self.cfg.output_path, state.cell):
                state.state, state.jobs_done = "skipped", len(state.cell.jobs)
        self.executor.on_start = self._started
        for state in self.board.cells:
            if state.state == "pending":
                if isinstance(self.executor, RayExecutor):
                    state.state, state.started = "running", time.perf_counter()
                for job in state.cell.jobs:
                    self.executor.submit(job)
        if self.live:
            with Live(get_renderable=self.board.table, console=self.console, refresh_per_second=2):
                self._loop()
        else:
            self._loop()
        return self.board

    def _loop(self) -> None:
        try:
            while self.executor.pending():
                for outcome in self.executor.wait(timeout=1.0):
                    self._fold(outcome)
        finally:
            self.executor.close()
            if not storage.is_url(self.cfg.output_path):  # the emptied snapshot folders
                for rel in ("caches", ""):
                    try:
                        (Path(self.cfg.output_path) / ".vbench-sweep" / rel).rmdir()
                    except OSError:
                        pass

    def _started(self, job: JobSpec) -> None:
        state = self.by_name[job.cell]
        if state.state == "pending":
            state.state, state.started = "running", time.perf_counter()

    def _fold(self, outcome: JobOutcome) -> None:
        state = self.by_name[outcome.cell]
        state.jobs_done += 1
        state.seconds += outcome.seconds
        state.episodes += outcome.n_episodes
        if outcome.snapshot:
            self._merge_cache(outcome)
        if outcome.status == "failed" and state.error is None:
            state.error = f"{outcome.label}: {outcome.error}"
        if not self.live:
            note = f": {outcome.error}" if outcome.error else ""
            self.console.print(f"{outcome.label}: {outcome.status} ({outcome.seconds:.1f}s){note} — "
                               f"{self.board.headline()}", highlight=False, soft_wrap=True)
        if state.jobs_done < len(state.cell.jobs):
            return
        if state.error is None and state.cell.jobs[0].shard:
            state.state = "merging"
            try:
                self._merge_shards(state.cell)
            except UsageError as exc:
                state.error = f"merge: {exc}"
        if state.error is None:
            self._mark_finished(state.cell)
        state.state = "failed" if state.error else "done"

    def _merge_cache(self, outcome: JobOutcome) -> None:
        """The job's cache snapshot into the driver's cache; its run folder then points at our image store."""
        assert outcome.snapshot is not None
        out = self.cfg.output_path
        with storage.staged(out, outcome.snapshot) as root:
            caches.merge_snapshot(root / outcome.snapshot, self.cache_root)
        storage.remove(out, outcome.snapshot)
        job = next(j for j in self.by_name[outcome.cell].cell.jobs if j.label == outcome.label)
        if storage.exists(out, f"{job.out_rel}/{STORE_POINTER}"):
            storage.write_text(out, f"{job.out_rel}/{STORE_POINTER}", self.pointer)

    def _merge_shards(self, cell: Cell) -> None:
        from vbench.scale.merge import merge_parts, read_part

        with storage.staged(self.cfg.output_path, cell.run_dir) as root:
            parts = [read_part(root / cell.run_dir / shard_dir_name(job.shard)) for job in cell.jobs if job.shard]
            merge_parts(parts, root / cell.run_dir, ["vbench", "merge", f"{cell.run_dir}/shard-*"], overwrite=True)

    def _mark_finished(self, cell: Cell) -> None:
        mark = {"cell": cell.name, "cell_key": cell.jobs[0].cell_key,
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        storage.write_text(self.cfg.output_path, f"{cell.run_dir}/{CELL_MARK}", json.dumps(mark) + "\n")


def run_sweep(cfg: SweepConfig, models: list[str], tasks: list[str], executor: str = "local",
              address: str | None = None, console: Console | None = None, live: bool | None = None,
              num_cpus: int | None = None) -> Board:
    """Plan (every name checked first), start the executor, run every cell; returns the final board."""
    console = console or Console(stderr=True)
    cells = plan_cells(cfg, models, tasks)
    ex = make_executor(executor, cfg, address, num_cpus)
    try:
        if ex.gpus_available:
            cells = plan_cells(cfg, models, tasks, gpus_available=True)
        sweep = Sweep(cfg, cells, ex, console, console.is_terminal if live is None else live)
    except BaseException:
        ex.close()
        raise
    return sweep.run()
