"""Drives all live episodes in lockstep.

Each step gathers the pending requests of every live episode, groups them by model role, answers
cached ones from the cache, sends the rest to the role's runner in batches, and resumes each episode
with its responses. A multi-turn game or a 100-scroll feed is therefore ~turns steps, not
turns × episodes calls. An episode whose request failed (infrastructure error) is closed and recorded
as an error; the others go on.
"""
from __future__ import annotations

import hashlib
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, Iterator

from vbench.runners.base import Runner
from vbench.runners.cache import ResponseCache
from vbench.types import ImagePart, LoggedMessage, Message, Record, Request, Response, TextPart, Turn, TurnRef

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


class MessageTable:
    """An episode's distinct messages, each kept once; turns refer to them by index (keeps the log small).

    A text part equal to an earlier turn's response (a model's own reply in its history, or the words
    it said arriving as the other player's user turn) is logged as a reference to that turn.
    """

    def __init__(self) -> None:
        self.messages: list[LoggedMessage] = []
        self._by_id: dict[int, int] = {}  # same object again (histories reuse their messages): no re-hash
        self._by_key: dict[str, int] = {}
        self._alive: list[Message] = []  # holds every object seen, so no id in _by_id is ever reused
        self._said: dict[str, int] = {}  # response text -> first turn that said it

    def said(self, turn: int, text: str | None) -> None:
        if text:
            self._said.setdefault(text, turn)

    def refs(self, messages: Iterable[Message]) -> list[int]:
        out = []
        for m in messages:
            idx = self._by_id.get(id(m))
            if idx is None:
                key = m.model_dump_json()
                idx = self._by_key.get(key)
                if idx is None:
                    idx = self._by_key[key] = len(self.messages)
                    parts = [TurnRef(turn=self._said[p.text]) if isinstance(p, TextPart) and p.text in self._said
                             else p for p in m.content]
                    self.messages.append(LoggedMessage(role=m.role, content=parts))
                self._by_id[id(m)] = idx
                self._alive.append(m)
            out.append(idx)
        return out


def _turn(step: int, req: Request, resp: Response, table: MessageTable) -> Turn:
    last_user = next((m for m in reversed(req.messages) if m.role == "user"), req.messages[-1])
    prompt = "".join(p.text if not isinstance(p, ImagePart) else f"[image:{p.image[:8]}]" for p in last_user.content)
    return Turn(step=step, role=req.role, kind=req.kind, prompt=prompt, images=last_user.images,
                messages=table.refs(req.messages), response=resp.text, probs=resp.probs, method=resp.method,
                cached=resp.cached)


@dataclass
class _Live:
    spec: EpisodeSpec
    pending: list[Request]
    step: int = 0
    turns: list[Turn] = field(default_factory=list)
    table: MessageTable = field(default_factory=MessageTable)


class Scheduler:
    def __init__(self, runners: dict[str, Runner], cache: ResponseCache | None = None,
                 gen_overrides: dict[str, Any] | None = None, max_live: int = 100_000,
                 spec_hash: str = "", task_name: str = "", progress: Callable[[int], None] | None = None):
        if "default" not in runners and not runners:
            raise ValueError("at least one runner is required")
        self.runners = runners
        self.cache = cache
        self.gen_overrides = dict(gen_overrides or {})
        self.max_live = max_live
        self.spec_hash = spec_hash
        self.task_name = task_name
        self.progress = progress
        self.stats = SchedulerStats()

    def runner_for(self, role: str) -> Runner:
        runner = self.runners.get(role) or self.runners.get("default")
        if runner is None:
            raise KeyError(f"no model for role {role!r}; give one with --model-role {role}=MODEL")
        return runner

    # -- request preparation -------------------------------------------------------------
    def _prepare(self, live: _Live, reqs: list[Request]) -> list[Request]:
        out = []
        for i, req in enumerate(reqs):
            if self.gen_overrides:
                req = req.model_copy(update={"gen": req.gen.model_copy(update=self.gen_overrides)})
            out.append(req.with_seed(derive_seed(live.spec.seed, live.spec.episode_id, live.step, i)))
        return out

    def _answer(self, role: str, reqs: list[Request]) -> list[Response]:
        runner = self.runner_for(role)
        keys = [r.cache_key(runner.fingerprint) for r in reqs]
        hits = self.cache.get_many(list(set(keys))) if self.cache is not None else {}
        responses: list[Response | None] = [hits.get(k) for k in keys]
        miss_idx = [i for i, r in enumerate(responses) if r is None]
        self.stats.cache_hits += len(reqs) - len(miss_idx)
        bs = max(1, runner.batch_size)
        for start in range(0, len(miss_idx), bs):
            chunk = miss_idx[start:start + bs]
            answers = runner.run([reqs[i] for i in chunk])
            if len(answers) != len(chunk):
                raise RuntimeError(f"{runner.backend} runner returned {len(answers)} responses for {len(chunk)}")
            self.stats.model_calls += len(chunk)
            self.stats.per_role_batches[role] += 1
            for i, resp in zip(chunk, answers):
                responses[i] = resp
            if self.cache is not None:
                self.cache.put_many([(keys[i], resp) for i, resp in zip(chunk, answers)])
        return responses  # type: ignore[return-value]

    # -- episode lifecycle -----------------------------------------------------------------
    def _record(self, live: _Live, outputs: dict[str, Any] | None, error: str | None) -> Record:
        s = live.spec
        return Record(task=self.task_name, episode_id=s.episode_id, index=s.index, sample=s.sample,
                      repeat=s.repeat, seed=s.seed, turns=live.turns,
                      messages=live.table.messages, outputs=outputs or {},
                      status="error" if error else "ok", error=error, spec_hash=self.spec_hash)

    def _advance(self, live: _Live, value: list[Response] | None) -> Record | None:
        """Send responses (or prime); returns a Record when the episode finished."""
        try:
            reqs = next(live.spec.gen) if value is None else live.spec.gen.send(value)
        except StopIteration as stop:
            return self._record(live, stop.value, None)
        except Exception as exc:  # a task bug or unusable input must not stop the other episodes
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return self._record(live, None, f"task error: {tb}")
        if not reqs:
            return self._record(live, None, "task error: episode yielded an empty request list")
        live.pending = self._prepare(live, list(reqs))
        return None

    def run(self, episodes: Iterable[EpisodeSpec], on_record: Callable[[Record], None]) -> SchedulerStats:
        source: Iterator[EpisodeSpec] = iter(episodes)
        live: list[_Live] = []
        exhausted = False

        def finish(rec: Record) -> None:
            if rec.status == "error":
                self.stats.errors += 1
            on_record(rec)
            if self.progress:
                self.progress(1)

        while True:
            while not exhausted and len(live) < self.max_live:
                spec = next(source, None)
                if spec is None:
                    exhausted = True
                    break
                item = _Live(spec=spec, pending=[])
                rec = self._advance(item, None)
                if rec is not None:
                    finish(rec)
                else:
                    live.append(item)
            if not live:
                break
            self.stats.steps += 1
            by_role: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for li, item in enumerate(live):
                for ri, req in enumerate(item.pending):
                    by_role[req.role].append((li, ri))
            answers: dict[tuple[int, int], Response] = {}
            for role, slots in by_role.items():
                reqs = [live[li].pending[ri] for li, ri in slots]
                self.stats.requests += len(reqs)
                for slot, resp in zip(slots, self._answer(role, reqs)):
                    answers[slot] = resp
            still: list[_Live] = []
            for li, item in enumerate(live):
                resps = [answers[(li, ri)] for ri in range(len(item.pending))]
                for q, r in zip(item.pending, resps):
                    item.turns.append(_turn(item.step, q, r, item.table))
                    item.table.said(len(item.turns) - 1, r.text)
                failed = next((r.error for r in resps if not r.ok), None)
                if failed:
                    item.spec.gen.close()
                    finish(self._record(item, None, f"infra error: {failed}"))
                    continue
                item.step += 1
                rec = self._advance(item, resps)
                if rec is not None:
                    finish(rec)
                else:
                    still.append(item)
            live = still
        return self.stats
