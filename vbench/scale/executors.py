"""Where sweep jobs run: in this process one after another (``local``), or as Ray tasks (``ray``).

Ray: ``ray.init(address=...)`` joins an existing cluster (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``)
or, without an address, starts a local one. Each job is a task reserving its cell's ``num_cpus`` and
``num_gpus``; a task whose worker dies is retried (``max_retries``) and resumes where the run folder
stands. Job failures (bad model, API errors) are outcomes, never retried.
"""
from __future__ import annotations

import os
import socket
from collections import deque
from typing import Any, Callable, Protocol

from vbench.errors import MissingDependencyError, UsageError
from vbench.scale.jobs import JobOutcome, run_job
from vbench.scale.plan import JobSpec

# Ray binds a new local cluster to the machine's network address unless told the cluster is single-machine
# (Ray's own switch, read when ray is imported); a local sweep then talks over loopback only.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class Executor(Protocol):
    parallelism: int
    gpus_available: bool
    on_start: Callable[[JobSpec], None] | None  # called when a job starts, where the executor knows it

    def submit(self, job: JobSpec) -> None: ...

    def wait(self, timeout: float) -> list[JobOutcome]:
        """Outcomes of jobs finished since the last call (at least one unless ``timeout`` passes)."""
        ...

    def pending(self) -> int: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Jobs in this process, in order, sharing the driver's cache (no snapshots to merge)."""

    parallelism = 1
    gpus_available = False

    def __init__(self, output: str, cache_dir: str | None):
        self.output, self.cache_dir = output, cache_dir
        self._queue: deque[JobSpec] = deque()
        self.on_start: Callable[[JobSpec], None] | None = None

    def submit(self, job: JobSpec) -> None:
        self._queue.append(job)

    def wait(self, timeout: float) -> list[JobOutcome]:
        if not self._queue:
            return []
        job = self._queue.popleft()
        if self.on_start:
            self.on_start(job)
        return [run_job(job, self.output, self.cache_dir, snapshot=False)]

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._queue.clear()


def check_address(address: str, timeout: float = 3.0) -> None:
    """An unreachable ``HOST:PORT`` is one line in seconds (Ray itself would retry for a long while)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--ray-address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"--ray-address {address}: no Ray cluster reachable there ({exc.strerror or exc})") from None


class RayExecutor:
    """Jobs as Ray tasks; each writes its own cache on its worker and leaves a snapshot for the driver."""

    def __init__(self, output: str, address: str | None, max_retries: int, num_cpus: int | None = None):
        if not address:  # a local cluster serves this machine alone: keep Ray's sockets on loopback
            os.environ.setdefault(LOCAL_ONLY_ENV, "0")
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("--executor ray", "ray") from None
        self._ray = ray
        self.on_start: Callable[[JobSpec], None] | None = None  # Ray does not tell: submitted counts as running
        self.output = output
        self.max_retries = max_retries
        self._started = False
        if not ray.is_initialized():
            if address:
                check_address(address)
            try:
                ray.init(address=address or "local", num_cpus=None if address else num_cpus,
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UsageError(f"--ray-address {address or '(local)'}: cannot start or join a Ray cluster "
                                 f"({str(exc).splitlines()[0][:200]})") from None
            self._started = True
        resources = ray.cluster_resources()
        self.parallelism = max(1, int(resources.get("CPU", 1)))
        self.gpus_available = resources.get("GPU", 0) > 0
        self._remote: Any = ray.remote(run_job)  # Ray's stubs type remote functions of up to 4 arguments
        self._pending: dict[Any, JobSpec] = {}

    def submit(self, job: JobSpec) -> None:
        ref = self._remote.options(num_cpus=job.resources.num_cpus, num_gpus=job.resources.num_gpus,
                                   max_retries=self.max_retries, retry_exceptions=False,
                                   name=f"vbench:{job.label}").remote(job, self.output, None, True, os.getcwd())
        self._pending[ref] = job

    def wait(self, timeout: float) -> list[JobOutcome]:
        if not self._pending:
            return []
        ready, _ = self._ray.wait(list(self._pending), num_returns=len(self._pending), timeout=timeout)
        out = []
        for ref in ready:
            job = self._pending.pop(ref)
            try:
                out.append(self._ray.get(ref))
            except Exception as exc:  # the worker was lost more often than max_retries allows
                out.append(JobOutcome(label=job.label, cell=job.cell, status="failed",
                                      error=f"worker lost ({type(exc).__name__}) after {self.max_retries} retries"))
        return out

    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        for ref in list(self._pending):
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        if self._started:
            self._ray.shutdown()
