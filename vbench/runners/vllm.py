"""In-process vLLM runner: a scheduler batch is one ``LLM.chat`` call for its generations and one for
its choices.

Each request becomes an OpenAI-style conversation (images as data URLs, or PIL images) with its own
``SamplingParams`` (seed included). ``choose`` scores every option's full continuation: the chat plus
the option as the start of the assistant's answer, read back as prompt log-probs, so every option gets
its probability (the same quantity the transformers runner computes). Tensor/pipeline/data parallelism
and multi-node (Ray) are vLLM's own: the arguments are passed through, and any other ``EngineArgs``
field may be given too (checked against the installed vLLM before anything loads).
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.runners import vllm_engine as ve
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.choice import exclusive_logprobs, pool_option_probs, surface_variants
from vbench.types import ImagePart, Message, Request, Response

log = logging.getLogger(__name__)
unavailable_reason = ve.unavailable_reason

# arguments that only change speed or placement, never answers
_PLACEMENT = frozenset({"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                        "max_num_seqs", "enforce_eager", "distributed_executor_backend", "download_dir",
                        "image_input", "swap_space", "kv_cache_memory_bytes"})


class VLLMArgs(RunnerArgs):
    """Runner arguments; any other key is passed to ``vllm.LLM`` as an engine argument."""

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


class VLLMRunner(Runner[VLLMArgs]):
    backend = "vllm"
    Args = VLLMArgs
    choice_scoring: ClassVar[str] = "full-continuation-logprobs"

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
        self._llm: Any = None
        self._variant_ids: dict[str, tuple[int, ...]] = {}

    def fingerprint_fields(self) -> dict[str, Any]:
        return {"backend": self.backend,
                **{k: v for k, v in self.args.model_dump(mode="json").items() if k not in _PLACEMENT}}

    def auto_batch_size(self) -> int:
        return 512  # vLLM schedules continuously inside one call; large batches keep the device fed

    def _engine(self) -> Any:
        if self._llm is None:
            from vllm import LLM

            try:
                self._llm = LLM(**self._kwargs)
            except Exception as exc:  # noqa: BLE001 - every start failure becomes one line
                raise ve.start_error(exc, self.args.pretrained) from None
        return self._llm

    # -- calls ------------------------------------------------------------------------------
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

    def run(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        self._engine()
        self.calls += len(requests)
        out: list[Response | None] = [None] * len(requests)
        gen = [i for i, r in enumerate(requests) if r.kind != "choose"]
        if gen:
            for i, resp in zip(gen, self._generate([requests[i] for i in gen])):
                out[i] = resp
        chosen = [i for i, r in enumerate(requests) if r.kind == "choose"]
        if chosen:
            for i, resp in zip(chosen, self._choose([requests[i] for i in chosen])):
                out[i] = resp
        return out  # type: ignore[return-value]

    def _generate(self, reqs: list[Request]) -> list[Response]:
        from vllm import SamplingParams

        convs = [to_vllm_messages(r.messages, self.store, self.args.image_input) for r in reqs]
        results = self._guarded(convs, [SamplingParams(**sampling_kwargs(r)) for r in reqs], scoring=False)
        out = []
        for res in results:
            if isinstance(res, BaseException):
                out.append(Response.failure(f"vllm: {type(res).__name__}: {ve.first_line(res)}"))
                continue
            c = res.outputs[0]
            n_out = len(c.token_ids or [])
            out.append(Response(text=c.text or "", method="generate", usage={"completion_tokens": n_out} if n_out else {}))
        return out

    def _ids(self, variant: str) -> tuple[int, ...]:
        if variant not in self._variant_ids:
            tok = self._llm.get_tokenizer()
            self._variant_ids[variant] = tuple(tok.encode(variant, add_special_tokens=False))
        return self._variant_ids[variant]

    def _choose(self, reqs: list[Request]) -> list[Response]:
        """Each request's distinct surface variants ("Yes", " yes", ...) scored as the assistant's answer."""
        from vllm import SamplingParams

        jobs: list[tuple[int, str]] = []  # (request index, variant)
        convs: list[list[dict]] = []
        for r, req in enumerate(reqs):
            base = to_vllm_messages(req.messages, self.store, self.args.image_input)
            seen: set[tuple[int, ...]] = set()
            for option in req.options:
                for variant in surface_variants(option):
                    ids = self._ids(variant)
                    if ids and ids not in seen:
                        seen.add(ids)
                        jobs.append((r, variant))
                        convs.append([*base, {"role": "assistant", "content": variant}])
        params = SamplingParams(**SCORE_KWARGS)
        results = self._guarded(convs, [params] * len(convs), scoring=True)
        lps: list[dict[str, float]] = [{} for _ in reqs]
        errors: dict[int, str] = {}
        for (r, variant), res in zip(jobs, results):
            if isinstance(res, BaseException):
                errors.setdefault(r, f"vllm: {type(res).__name__}: {ve.first_line(res)}")
                continue
            try:
                lps[r][variant] = continuation_logprob(res.prompt_token_ids, res.prompt_logprobs, list(self._ids(variant)))
            except ValueError as exc:  # the chat template changed the answer's tokens: not scorable this way
                errors.setdefault(r, f"vllm: {exc} ({variant!r})")
        out = []
        for r, req in enumerate(reqs):
            if r in errors:
                out.append(Response.failure(errors[r]))
                continue
            ids = {v: self._ids(v) for v in lps[r]}
            probs, mass = pool_option_probs(exclusive_logprobs(ids, lps[r]), req.options)
            out.append(Response(probs=probs, option_mass=mass, method="logprobs"))
        return out

    def close(self) -> None:
        """Shut the engine core down now (its worker processes and shared memory), not at interpreter exit."""
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

