"""The episode engine: every episode advances as soon as its own answers arrive.

Each episode is one task on the process-wide loop (``vbench.runners.loop``). When its generator yields
requests, the engine seeds them (from the episode's seed, id, own step and position in the yield — never
from arrival order), answers cached ones at once and sends the rest to the role's runner: awaited one
by one for a runner with a native async path (API runners, up to their concurrency in flight), or
queued to that runner's micro-batcher (``vbench.runners.microbatch``) for batch-only runners (hf,
dummy). Runners of different roles therefore work at the same time, and no episode waits for another's
answer. Each answer goes into the response cache as it arrives (all answers of one loop turn share one
commit), so a crash loses only requests still in flight.

An infrastructure error (``Response.error``) or a task exception closes only its episode (recorded as
an error); an exception from a runner itself (bad key, model cannot load) stops the whole run.
Episodes are started lazily from the iterator, at most ``max_live`` at once.
"""
from __future__ import annotations

import asyncio
import hashlib
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Generator, Iterable

from vbench.runners.base import Runner
from vbench.runners.cache import ResponseCache, TallyKey
from vbench.runners.episode_log import MessageTable, log_turn
from vbench.runners.microbatch import MicroBatcher
from vbench.types import Record, Request, Response, Turn, all_answered

EpisodeGen = Generator[list[Request], list[Response], dict[str, Any]]


@dataclass
class EpisodeSpec:
    """An episode before it starts: identity, sample metadata and the generator that plays it."""

    episode_id: str
    index: int
    sample: dict[str, Any]
    gen: EpisodeGen
    repeat: int = 0
    seed: int = 0


@dataclass
class SchedulerStats:
    """Counts of one run. ``steps``: the most request rounds any one episode made (episodes no longer
    move in lockstep; this equals the old lockstep step count when all episodes start together).
    ``per_role_batches``: runner calls per role (a micro-batch for batch runners, a request for async ones)."""

    steps: int = 0
    requests: int = 0
    model_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    per_role_batches: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def derive_seed(*parts: Any) -> int:
    """Stable 31-bit seed from any parts (run seed, episode id, step, position)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class _Live:
    spec: EpisodeSpec
    step: int = 0
    turns: list[Turn] = field(default_factory=list)
    table: MessageTable = field(default_factory=MessageTable)


class _CacheWriter:
    """Puts answers into the cache as they arrive; everything that arrived in one loop turn is one commit,
    together with the run's tally (``tally_key``) so counted calls and cached answers agree."""

    def __init__(self, cache: ResponseCache | None, stats: SchedulerStats, tally_key: TallyKey | None = None) -> None:
        self.cache = cache
        self.stats = stats
        self.tally_key = tally_key
        self._pending: list[tuple[str, Response]] = []
        self._scheduled = False
        self._committed = (0, 0)  # (model calls, cache hits) last committed; (0, 0): none yet

    def put(self, key: str, response: Response) -> None:
        if self.cache is None:
            return
        if response.ok:
            self._pending.append((key, response))
        self.touch()

    def touch(self) -> None:
        """The tally changed: commit it at the end of this loop turn."""
        if self.cache is None or self._scheduled or (self.tally_key is None and not self._pending):
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        items, self._pending = self._pending, []
        if self.cache is None:
            return
        tally = None
        counts = (self.stats.model_calls, self.stats.cache_hits)
        if self.tally_key is not None and counts != self._committed:
            if self._committed == (0, 0):
                self.tally_key.register()  # the invocation's first commit
            self._committed = counts
            tally = (self.tally_key.run, self.tally_key.invocation, *counts)
        self.cache.put_many(items, tally)


class Engine:
    """Plays one run's episodes on the shared loop (``run`` is a coroutine; see ``Scheduler`` for the
    synchronous entry point). ``close`` joins the micro-batcher threads; call it from outside the loop."""

    def __init__(self, runners: dict[str, Runner], cache: ResponseCache | None = None,
                 gen_overrides: dict[str, Any] | None = None, max_live: int = 100_000, spec_hash: str = "",
                 task_name: str = "", progress: Callable[[int], object] | None = None, in_order: bool = True,
                 stats: SchedulerStats | None = None, tally_key: TallyKey | None = None) -> None:
        self.runners = runners
        self.cache = cache
        self.gen_overrides = dict(gen_overrides or {})
        self.max_live = max(1, max_live)
        self.spec_hash = spec_hash
        self.task_name = task_name
        self.progress = progress
        self.in_order = in_order
        self.stats = stats or SchedulerStats()
        self._writer = _CacheWriter(cache, self.stats, tally_key)
        self._batchers: dict[int, MicroBatcher] = {}
        self._fingerprints: dict[int, str] = {}  # runner -> fingerprint (hashed once per run, not per request)
        self._live = 0  # episodes started and not finished
        self._blocked = 0  # of those, the ones waiting for at least one answer

    def runner_for(self, role: str) -> Runner:
        runner = self.runners.get(role) or self.runners.get("default")
        if runner is None:
            raise KeyError(f"no model for role {role!r}; give one with --model-role {role}=MODEL")
        return runner

    # -- answering ---------------------------------------------------------------------------------
    def _prepare(self, live: _Live, reqs: list[Request]) -> list[Request]:
        out = []
        for i, req in enumerate(reqs):
            if self.gen_overrides:
                req = req.model_copy(update={"gen": req.gen.model_copy(update=self.gen_overrides)})
            out.append(req.with_seed(derive_seed(live.spec.seed, live.spec.episode_id, live.step, i)))
        return out

    def _batcher(self, runner: Runner, role: str) -> MicroBatcher:
        b = self._batchers.get(id(runner))
        if b is None:
            def counted(n: int) -> None:
                self.stats.per_role_batches[role] += 1

            b = self._batchers[id(runner)] = MicroBatcher(runner, asyncio.get_running_loop(), on_batch=counted,
                                                          on_idle=self._start_rounds, auto_rounds=False)
        return b

    def _start_rounds(self) -> None:
        """Start the batch runners' next rounds once the run is quiescent: every live episode waits for an
        answer and no batch runner is busy. What a round holds then follows from the run alone (see
        ``vbench.runners.microbatch``), so local models batch the same requests together on every run."""
        if self._blocked < self._live or any(b.busy for b in self._batchers.values()):
            return
        for b in self._batchers.values():
            b.start_round()

    def _fingerprint(self, runner: Runner) -> str:
        fp = self._fingerprints.get(id(runner))
        if fp is None:
            fp = self._fingerprints[id(runner)] = runner.fingerprint
        return fp

    async def _native(self, runner: Runner, role: str, key: str, req: Request,
                      resolved: Callable[[], None]) -> Response:
        try:
            resp = await runner.answer(req)
        finally:
            resolved()
        self.stats.model_calls += 1
        self.stats.per_role_batches[role] += 1
        self._writer.put(key, resp)
        return resp

    async def _batched(self, fut: asyncio.Future[Response], key: str) -> Response:
        resp = await fut
        self.stats.model_calls += 1
        self._writer.put(key, resp)
        return resp

    async def _answer(self, reqs: list[Request], order: tuple[int, int]) -> list[Response]:
        """Responses to one yield (same order): cache hits at once, misses from their runners. ``order``
        (the episode's position in the run, its step) places its requests within a batch runner's round."""
        runners = [self.runner_for(r.role) for r in reqs]
        # the content hash serves the cache only: without one, no request pays for it
        keys = ([r.cache_key(self._fingerprint(run)) for r, run in zip(reqs, runners)] if self.cache is not None
                else [""] * len(reqs))
        hits = self.cache.get_many(list(set(keys))) if self.cache is not None else {}
        self.stats.requests += len(reqs)
        out: list[Response | None] = [hits.get(k) for k in keys]
        self.stats.cache_hits += sum(r is not None for r in out)
        if hits:
            self._writer.touch()
        waits: dict[int, Coroutine[Any, Any, Response]] = {}
        queued: dict[int, list[int]] = defaultdict(list)  # batch runner -> positions to send together
        missing = [i for i, r in enumerate(out) if r is None]
        outstanding = len(missing)

        def resolved() -> None:  # called as each answer arrives: the episode can move once all have
            nonlocal outstanding
            outstanding -= 1
            if outstanding == 0:
                self._blocked -= 1

        if missing:
            self._blocked += 1
        for i in missing:
            req, runner = reqs[i], runners[i]
            if runner.native_async:
                waits[i] = self._native(runner, req.role, keys[i], req, resolved)
            else:
                queued[id(runner)].append(i)
        for positions in queued.values():
            runner = runners[positions[0]]
            futures = self._batcher(runner, reqs[positions[0]].role).submit(
                [reqs[i] for i in positions], key=order, on_resolved=resolved)
            for i, fut in zip(positions, futures):
                waits[i] = self._batched(fut, keys[i])
        if missing:
            self._start_rounds()
        if len(waits) == 1:  # the common case: one request per turn, no gather needed
            (i, wait), = waits.items()
            out[i] = await wait
        elif waits:
            waiting = list(waits)
            for i, resp in zip(waiting, await asyncio.gather(*(waits[i] for i in waiting))):
                out[i] = resp
        return all_answered(out)

    # -- episode lifecycle -------------------------------------------------------------------------
    def _record(self, live: _Live, outputs: dict[str, Any] | None, error: str | None) -> Record:
        s = live.spec
        return Record(task=self.task_name, episode_id=s.episode_id, index=s.index, sample=s.sample,
                      repeat=s.repeat, seed=s.seed, turns=live.turns, messages=live.table.messages,
                      outputs=outputs or {}, status="error" if error else "ok", error=error, spec_hash=self.spec_hash)

    def _advance(self, live: _Live, value: list[Response] | None) -> Record | list[Request]:
        """Send responses (or prime): the next requests, or the Record when the episode finished."""
        try:
            reqs = next(live.spec.gen) if value is None else live.spec.gen.send(value)
        except StopIteration as stop:
            return self._record(live, stop.value, None)
        except Exception as exc:  # a task bug or unusable input must not stop the other episodes
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return self._record(live, None, f"task error: {tb}")
        if not reqs:
            return self._record(live, None, "task error: episode yielded an empty request list")
        return self._prepare(live, list(reqs))

    async def _play(self, spec: EpisodeSpec, position: int) -> Record:
        live = _Live(spec=spec)
        value: list[Response] | None = None
        try:
            while True:
                step = self._advance(live, value)
                if isinstance(step, Record):
                    return step
                resps = await self._answer(step, (position, live.step))
                for q, r in zip(step, resps):
                    live.turns.append(log_turn(live.step, q, r, live.table))
                    live.table.said(len(live.turns) - 1, r.text)
                live.step += 1
                self.stats.steps = max(self.stats.steps, live.step)
                failed = next((r.error for r in resps if not r.ok), None)
                if failed:
                    spec.gen.close()
                    return self._record(live, None, f"infra error: {failed}")
                value = resps
        except BaseException:  # cancelled (run stopped) or the backend failed: let the task clean up
            spec.gen.close()
            raise
        finally:
            self._live -= 1
            self._start_rounds()

    async def run(self, episodes: Iterable[EpisodeSpec], on_record: Callable[[Record], None]) -> SchedulerStats:
        """Play every episode; ``on_record`` gets each finished one (in the iterator's order when
        ``in_order``, else as they finish). Raises the first runner failure after stopping the rest."""
        source = iter(episodes)
        finished: asyncio.Queue[asyncio.Task[Record]] = asyncio.Queue()
        running: dict[asyncio.Task[Record], int] = {}  # task -> position in the iterator
        ready: dict[int, Record] = {}  # finished, waiting for earlier episodes (in_order)
        started = delivered = 0
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) + len(ready) < self.max_live:
                    spec = next(source, None)
                    if spec is None:
                        exhausted = True
                        break
                    task = asyncio.create_task(self._play(spec, started))
                    self._live += 1
                    task.add_done_callback(finished.put_nowait)
                    running[task] = started
                    started += 1
                if not running:
                    break
                task = await finished.get()
                position = running.pop(task)
                rec = task.result()  # a runner failure propagates from here
                if rec.status == "error":
                    self.stats.errors += 1
                if self.progress:
                    self.progress(1)
                if not self.in_order:
                    on_record(rec)
                    continue
                ready[position] = rec
                while delivered in ready:
                    on_record(ready.pop(delivered))
                    delivered += 1
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            self._writer.flush()
        return self.stats

    def close(self) -> None:
        """Stop and join the micro-batcher threads (after ``run`` returned or was cancelled)."""
        batchers, self._batchers = list(self._batchers.values()), {}
        for b in batchers:
            b.close()
