"""vLLM runner. With ``engine=async`` (the default on a GPU) every request goes to vLLM's asynchronous
engine (``AsyncLLM``, see ``vllm_async``) as soon as it is asked for: vLLM batches whatever is in flight
continuously and reuses cached prompt prefixes across a conversation's turns. ``engine=sync`` (the default
on vLLM's CPU build, where an in-process ``vllm.LLM`` starts several times faster than ``AsyncLLM``'s
separate engine process) is the blocking path: a scheduler batch is one ``LLM.chat`` call for its
generations and one for its choices. Both paths build the same requests and read the same outputs, so the
engine choice never changes an answer.

Each request becomes an OpenAI-style conversation (images as data URLs, or PIL images) with its own
``SamplingParams`` (seed included). ``choose`` scores every option's full continuation: the chat plus
the option as the start of the assistant's answer, read back as prompt log-probs, so every option gets
its probability (the same quantity the transformers runner computes). Tensor/pipeline/data parallelism
and multi-node (Ray) are vLLM's own: the arguments are passed through, and any other ``EngineArgs``
field may be given too (checked against the installed vLLM before anything loads).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Awaitable, ClassVar, Literal, TypeVar

from pydantic import ConfigDict, Field

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.runners import vllm_engine as ve
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.loop import shared_loop
from vbench.runners.vllm_async import AsyncEngine
from vbench.runners.choice import exclusive_logprobs, pool_option_probs, surface_variants
from vbench.types import ImagePart, Message, Request, Response, all_answered

log = logging.getLogger(__name__)
T = TypeVar("T")
unavailable_reason = ve.unavailable_reason

# arguments that only change speed or placement, never answers
_PLACEMENT = frozenset({"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                        "max_num_seqs", "enforce_eager", "distributed_executor_backend", "download_dir",
                        "image_input", "swap_space", "kv_cache_memory_bytes", "engine"})


class VLLMArgs(RunnerArgs):
    """Runner arguments; any other key is passed to vLLM as an engine argument."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    pretrained: str = Field(description="Hub id or local path")
    revision: str | None = None
    dtype: str = "auto"
    trust_remote_code: bool = False
    tensor_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = Field(None, ge=256)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    limit_mm_per_prompt: int = Field(4, ge=0, description="most images in one prompt")
    max_num_seqs: int | None = Field(None, ge=1)
    quantization: str | None = None
    enforce_eager: bool = False
    distributed_executor_backend: Literal["ray", "mp"] | None = None
    download_dir: str | None = None
    image_input: Literal["data_url", "pil"] = "data_url"
    seed: int = 0
    engine: Literal["auto", "async", "sync"] = Field(
        "auto", description="async: vLLM's AsyncLLM, each request submitted on its own (continuous batching, "
                            "prefix caching across turns); sync: one blocking LLM.chat per scheduler batch; "
                            "auto: async on a GPU, sync on vLLM's CPU build (in-process, much faster to start)")

    def engine_extras(self) -> dict[str, Any]:
        return {k: ve.coerce(v) for k, v in (self.model_extra or {}).items()}


def engine_kwargs(args: VLLMArgs) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` from the runner args (parallelism passed through as vLLM spells it)."""
    kw: dict[str, Any] = {
        "model": args.pretrained, "dtype": args.dtype, "trust_remote_code": args.trust_remote_code,
        "tensor_parallel_size": args.tensor_parallel_size, "pipeline_parallel_size": args.pipeline_parallel_size,
        "gpu_memory_utilization": args.gpu_memory_utilization, "seed": args.seed,
        "limit_mm_per_prompt": {"image": args.limit_mm_per_prompt}, "enforce_eager": args.enforce_eager,
    }
    if args.data_parallel_size > 1:
        kw["data_parallel_size"] = args.data_parallel_size
    for name in ("revision", "max_model_len", "max_num_seqs", "quantization", "distributed_executor_backend",
                 "download_dir"):
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
    kw.update(args.engine_extras())
    return kw


def to_vllm_messages(messages: tuple[Message, ...], store: ImageStore, image_input: str = "data_url") -> list[dict]:
    """vbench messages → the OpenAI-style conversation ``LLM.chat`` takes."""
    out: list[dict[str, Any]] = []
    for m in messages:
        parts: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                if image_input == "pil":
                    parts.append({"type": "image_pil", "image_pil": store.open(p.image)})
                else:
                    parts.append({"type": "image_url", "image_url": {"url": store.data_url(p.image)}})
            elif p.text:
                parts.append({"type": "text", "text": p.text})
        if m.role == "system" or all(p["type"] == "text" for p in parts):
            out.append({"role": m.role, "content": "".join(p.get("text", "") for p in parts)})
        else:
            out.append({"role": m.role, "content": parts})
    return out


def sampling_kwargs(req: Request) -> dict[str, Any]:
    """``SamplingParams(**kwargs)`` for one generation request (its own seed)."""
    g = req.gen
    kw: dict[str, Any] = {"temperature": g.temperature, "top_p": g.top_p, "max_tokens": g.max_tokens, "seed": g.seed}
    if g.stop:
        kw["stop"] = list(g.stop)
    return kw


SHUTDOWN_TIMEOUT_S = 60.0

# a scored continuation reads its prompt log-probs; it generates one throw-away token
SCORE_KWARGS: dict[str, Any] = {"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "detokenize": False}


def continuation_logprob(prompt_ids: list[int], prompt_logprobs: list[Any], cont_ids: list[int]) -> float:
    """log P(cont_ids | everything before them) from a vLLM ``RequestOutput``'s prompt log-probs."""
    n = len(cont_ids)
    if n == 0 or list(prompt_ids[-n:]) != list(cont_ids):
        raise ValueError("the scored continuation is not the end of the prompt")
    return sum(prompt_logprobs[len(prompt_ids) - n + j][tok].logprob for j, tok in enumerate(cont_ids))


def resolve_engine(engine: str) -> str:
    """``auto`` → ``async`` on a GPU; on vLLM's CPU build ``sync``: ``AsyncLLM`` always runs its engine core in
    a separate process, which there takes several times longer to start than an in-process ``vllm.LLM``."""
    if engine != "auto":
        return engine
    return "sync" if ve.platform_kind() == "cpu" else "async"


async def _all(coros: list[Awaitable[T]]) -> list[T]:
    """Every coroutine's result, in order; when one fails, the others are cancelled (their engine requests
    aborted) before the failure propagates."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()  # a no-op for the finished ones


def _rejected(exc: BaseException) -> Response:
    """The Response of a request vLLM rejected (too long, too many images): that request fails, not the run."""
    return Response.failure(f"vllm: {type(exc).__name__}: {ve.first_line(exc)}")


class VLLMRunner(Runner[VLLMArgs]):
    backend = "vllm"
    Args = VLLMArgs
    choice_scoring: ClassVar[str] = "full-continuation-logprobs"
    @property
    def native_async(self) -> bool:
        return getattr(self, "_async", None) is not None  # engine=sync is served through ``run``

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why vLLM cannot run here, or None (the zoo falls back to transformers when it cannot)."""
        return unavailable_reason()

    def __init__(self, args: VLLMArgs, store: ImageStore | None = None, batch_size: int | str = "auto"):
        super().__init__(args, store, batch_size)
        self.args: VLLMArgs = args
        reason = unavailable_reason()
        if reason:
            raise UsageError(
                f"cannot run {args.pretrained} with vLLM: {reason}. To run it with transformers instead use "
                f"`--backend hf` (model-zoo aliases) or `--model hf --model_args pretrained={args.pretrained}`")
        self._kwargs = engine_kwargs(args)
        if ve.platform_kind() == "cpu":
            self._kwargs = ve.cpu_engine_kwargs(self._kwargs)
        ve.check_engine_kwargs(self._kwargs)
        self._llm: Any = None  # the blocking engine (engine=sync)
        self._sync_start_s: float | None = None
        self.engine = resolve_engine(args.engine)
        self._async = AsyncEngine(self._kwargs, args.pretrained) if self.engine == "async" else None
        self._sync_lock = threading.Lock()
        self._variant_ids: dict[str, tuple[int, ...]] = {}
        self.prefix_cache = ve.PrefixCacheStats()

    def fingerprint_fields(self) -> dict[str, Any]:
        return {"backend": self.backend,
                **{k: v for k, v in self.args.model_dump(mode="json").items() if k not in _PLACEMENT}}

    def auto_batch_size(self) -> int:
        return 512  # vLLM schedules continuously; large batches keep the device fed

    @property
    def engine_started(self) -> bool:
        return self._llm is not None or (self._async is not None and self._async.started)

    @property
    def start_seconds(self) -> float | None:
        """How long the engine took to start (None before it has)."""
        return self._async.start_seconds if self._async is not None else self._sync_start_s

    # -- what both engines share: the requests they are sent, and how their outputs are read -------------
    def _tokenizer(self) -> Any:
        return self._async.get_tokenizer() if self._async is not None else self._llm.get_tokenizer()

    def _ids(self, variant: str) -> tuple[int, ...]:
        if variant not in self._variant_ids:
            self._variant_ids[variant] = tuple(self._tokenizer().encode(variant, add_special_tokens=False))
        return self._variant_ids[variant]

    def _gen_job(self, req: Request) -> tuple[list[dict], Any]:
        from vllm import SamplingParams

        return to_vllm_messages(req.messages, self.store, self.args.image_input), SamplingParams(**sampling_kwargs(req))

    def _gen_response(self, res: Any) -> Response:
        """A ``RequestOutput`` (or the exception that rejected the request) → the Response."""
        if isinstance(res, BaseException):
            return _rejected(res)
        self.prefix_cache.add(res)
        c = res.outputs[0]
        n_out = len(c.token_ids or [])
        return Response(text=c.text or "", method="generate", usage={"completion_tokens": n_out} if n_out else {})

    def _score_jobs(self, req: Request) -> list[tuple[str, list[dict]]]:
        """A `choose` request's distinct surface variants ("Yes", " yes", ...), each with the conversation
        that has it as the start of the assistant's answer (scored from its prompt log-probs)."""
        base = to_vllm_messages(req.messages, self.store, self.args.image_input)
        seen: set[tuple[int, ...]] = set()
        jobs = []
        for option in req.options:
            for variant in surface_variants(option):
                ids = self._ids(variant)
                if ids and ids not in seen:
                    seen.add(ids)
                    jobs.append((variant, [*base, {"role": "assistant", "content": variant}]))
        return jobs

    def _choose_response(self, req: Request, scored: list[tuple[str, Any]]) -> Response:
        lps: dict[str, float] = {}
        for variant, res in scored:
            if isinstance(res, BaseException):
                return _rejected(res)
            self.prefix_cache.add(res)
            try:
                lps[variant] = continuation_logprob(res.prompt_token_ids, res.prompt_logprobs, list(self._ids(variant)))
            except ValueError as exc:  # the chat template changed the answer's tokens: not scorable this way
                return Response.failure(f"vllm: {exc} ({variant!r})")
        ids = {v: self._ids(v) for v in lps}
        probs, mass = pool_option_probs(exclusive_logprobs(ids, lps), req.options)
        return Response(probs=probs, option_mass=mass, method="logprobs")

    # -- the asynchronous engine (default) -------------------------------------------------------------
    async def answer(self, request: Request) -> Response:
        """One request to the asynchronous engine, on the shared loop (a `choose` is one engine request
        per surface variant, all in flight at once)."""
        if self._async is None:  # engine=sync: the blocking path, off the loop
            [resp] = await asyncio.to_thread(self.run, [request])
            return resp
        from vllm import SamplingParams

        engine = self._async
        await engine.start()  # built off the loop: other episodes keep moving while it loads
        self.calls += 1
        if request.kind != "choose":
            conv, params = self._gen_job(request)
            return self._gen_response(await engine.chat(conv, params, scoring=False))
        jobs = self._score_jobs(request)
        params = SamplingParams(**SCORE_KWARGS)
        outs = await _all([engine.chat(conv, params, scoring=True) for _, conv in jobs])
        return self._choose_response(request, [(variant, out) for (variant, _), out in zip(jobs, outs)])

    def run(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        if self._async is None:
            with self._sync_lock:
                return self._run_sync(requests)
        return shared_loop().run(_all([self.answer(r) for r in requests]))

    # -- the blocking engine (engine=sync) -------------------------------------------------------------
    def _start_sync(self) -> Any:
        if self._llm is None:
            from vllm import LLM

            t0 = time.perf_counter()
            try:
                self._llm = LLM(**self._kwargs)
            except Exception as exc:  # noqa: BLE001 - every start failure becomes one line
                raise ve.start_error(exc, self.args.pretrained) from None
            self._sync_start_s = time.perf_counter() - t0
        return self._llm

    def _chat(self, convs: list[list[dict]], params: list[Any], scoring: bool) -> list[Any]:
        kw = {"add_generation_prompt": False, "continue_final_message": True} if scoring else {}
        return self._llm.chat(convs, sampling_params=params, use_tqdm=False, **kw)

    def _guarded(self, convs: list[list[dict]], params: list[Any], scoring: bool) -> list[Any | BaseException]:
        """One call for the lot; if vLLM rejects a request (too long, too many images), each on its own so
        only that request fails. Any other failure is the engine's: the run stops with one line."""
        rejected = ve.request_errors()
        try:
            return self._chat(convs, params, scoring)
        except rejected:
            pass
        except Exception as exc:  # noqa: BLE001
            raise ve.engine_error(exc, self.args.pretrained) from None
        out: list[Any | BaseException] = []
        for conv, p in zip(convs, params):
            try:
                out.append(self._chat([conv], [p], scoring)[0])
            except rejected as exc:
                out.append(exc)
            except Exception as exc:  # noqa: BLE001
                raise ve.engine_error(exc, self.args.pretrained) from None
        return out

    def _run_sync(self, requests: list[Request]) -> list[Response]:
        """A batch as two ``LLM.chat`` calls: one for its generations, one for every scored variant."""
        from vllm import SamplingParams

        self._start_sync()
        self.calls += len(requests)
        out: list[Response | None] = [None] * len(requests)
        gen = [i for i, r in enumerate(requests) if r.kind != "choose"]
        if gen:
            convs, params = zip(*(self._gen_job(requests[i]) for i in gen))
            for i, res in zip(gen, self._guarded(list(convs), list(params), scoring=False)):
                out[i] = self._gen_response(res)
        chosen = [i for i, r in enumerate(requests) if r.kind == "choose"]
        jobs = [(i, variant, conv) for i in chosen for variant, conv in self._score_jobs(requests[i])]
        if jobs:
            score = SamplingParams(**SCORE_KWARGS)
            scored: dict[int, list[tuple[str, Any]]] = {i: [] for i in chosen}
            for (i, variant, _), res in zip(jobs, self._guarded([c for _, _, c in jobs], [score] * len(jobs), True)):
                scored[i].append((variant, res))
            for i in chosen:
                out[i] = self._choose_response(requests[i], scored[i])
        return all_answered(out)

    def reset_prefix_cache(self) -> None:
        """Forget every cached prompt prefix (a benchmark measures each run from a cold cache)."""
        if self._async is not None and self._async.started:
            shared_loop().run(self._async.started_llm().reset_prefix_cache())
        elif self._llm is not None:
            self._llm.reset_prefix_cache()

    def close(self) -> None:
        """Shut the engine core down now (its processes and shared memory), not at interpreter exit."""
        if self._async is not None:
            self._async.shutdown(SHUTDOWN_TIMEOUT_S)
        llm, self._llm = self._llm, None
        if llm is None:
            return
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None:
            try:  # time for the engine core to stop its own workers first (vLLM's default 5 s kills it mid-way)
                core.shutdown(timeout=SHUTDOWN_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - closing must not mask the run's own outcome
                log.warning("vllm engine shutdown: %s", ve.first_line(exc))
        del llm
        import gc

        gc.collect()
