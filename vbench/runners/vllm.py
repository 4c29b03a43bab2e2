"""In-process vLLM runner: a whole scheduler batch is one ``LLM.chat`` call.

Each request becomes an OpenAI-style conversation (images as data URLs, or PIL images) with its own
``SamplingParams`` (seed included). ``choose`` reads the top-k log-probs of a one-token answer and pools
them onto the options (see ``vbench.runners.choice``). Tensor/pipeline/data parallelism and multi-node
(Ray) are vLLM's own: the arguments are passed through. Everything except the ``LLM`` call is plain
request building, unit-tested without a GPU.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Any, Literal

from pydantic import Field

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.choice import one_hot, parse_choice, pool_option_probs
from vbench.types import ImagePart, Message, Request, Response

log = logging.getLogger(__name__)

# arguments that only change speed or placement, never answers
_PLACEMENT = frozenset({"tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                        "max_num_seqs", "enforce_eager", "distributed_executor_backend", "download_dir",
                        "image_input", "swap_space"})


class VLLMArgs(RunnerArgs):
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
    swap_space: float | None = Field(None, ge=0)
    top_logprobs: int = Field(20, ge=1, le=100, description="alternatives read for `choose`")
    image_input: Literal["data_url", "pil"] = "data_url"
    seed: int = 0


def unavailable_reason() -> str | None:
    """Why vLLM cannot run here (not installed / no CUDA GPU), or None."""
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'vbench-personas[vllm]', on a machine with a CUDA GPU)"
    try:
        import torch
    except ImportError:
        return "vLLM needs torch, which is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible here"
    return None


def engine_kwargs(args: VLLMArgs) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` from the runner args (parallelism passed through as vLLM spells it)."""
    kw: dict[str, Any] = {
        "model": args.pretrained, "dtype": args.dtype, "trust_remote_code": args.trust_remote_code,
        "tensor_parallel_size": args.tensor_parallel_size, "pipeline_parallel_size": args.pipeline_parallel_size,
        "gpu_memory_utilization": args.gpu_memory_utilization, "seed": args.seed,
        "limit_mm_per_prompt": {"image": args.limit_mm_per_prompt}, "max_logprobs": max(20, args.top_logprobs),
        "enforce_eager": args.enforce_eager,
    }
    if args.data_parallel_size > 1:
        kw["data_parallel_size"] = args.data_parallel_size
    for name in ("revision", "max_model_len", "max_num_seqs", "quantization", "distributed_executor_backend",
                 "download_dir", "swap_space"):
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
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


def sampling_kwargs(req: Request, top_logprobs: int) -> dict[str, Any]:
    """``SamplingParams(**kwargs)`` for one request; ``choose`` asks one token with its top-k log-probs."""
    g = req.gen
    kw: dict[str, Any] = {"temperature": g.temperature, "top_p": g.top_p, "max_tokens": g.max_tokens, "seed": g.seed}
    if g.stop:
        kw["stop"] = list(g.stop)
    if req.kind == "choose":
        kw.update(max_tokens=1, logprobs=top_logprobs)
    return kw


def first_token_logprobs(completion: Any) -> list[tuple[str, float]]:
    """(decoded token, logprob) pairs of the first position of a vLLM ``CompletionOutput``."""
    steps = getattr(completion, "logprobs", None) or []
    if not steps:
        return []
    return [(lp.decoded_token or "", lp.logprob) for lp in steps[0].values()]


def to_response(req: Request, completion: Any) -> Response:
    """A vLLM ``CompletionOutput`` → Response (log-prob pooling for ``choose``; parse if no option showed)."""
    text = completion.text or ""
    n_out = len(getattr(completion, "token_ids", None) or [])
    usage = {"completion_tokens": n_out} if n_out else {}
    if req.kind != "choose":
        return Response(text=text, method="generate", usage=usage)
    probs, mass = pool_option_probs(first_token_logprobs(completion), req.options)
    if mass > 0:
        return Response(text=text, probs=probs, method="logprobs", option_mass=mass, usage=usage)
    picked = parse_choice(text, req.options)
    return Response(text=text, probs=one_hot(picked, req.options), method="parsed",
                    option_mass=1.0 if picked else 0.0, usage=usage)


class VLLMRunner(Runner):
    backend = "vllm"
    Args = VLLMArgs

    def __init__(self, args: VLLMArgs, store: ImageStore | None = None, batch_size: int | str = "auto"):
        super().__init__(args, store, batch_size)
        self.args: VLLMArgs = args
        reason = unavailable_reason()
        if reason:
            raise UsageError(
                f"cannot run {args.pretrained} with vLLM: {reason}. To run it with transformers instead use "
                f"`--backend hf` (model-zoo aliases) or `--model hf --model_args pretrained={args.pretrained}`")
        self._llm: Any = None

    def fingerprint_fields(self) -> dict[str, Any]:
        return {"backend": self.backend,
                **{k: v for k, v in self.args.model_dump(mode="json").items() if k not in _PLACEMENT}}

    def auto_batch_size(self) -> int:
        return 512  # vLLM schedules continuously inside one call; large batches keep the GPU fed

    def _engine(self) -> Any:
        if self._llm is None:
            from vllm import LLM

            try:
                self._llm = LLM(**engine_kwargs(self.args))
            except (OSError, ValueError) as exc:  # unknown model id, bad path, unsupported config
                raise UsageError(f"vllm could not load {self.args.pretrained!r}: {exc}") from None
        return self._llm

    def _chat(self, llm: Any, reqs: list[Request]) -> list[Any]:
        from vllm import SamplingParams

        convs = [to_vllm_messages(r.messages, self.store, self.args.image_input) for r in reqs]
        params = [SamplingParams(**sampling_kwargs(r, self.args.top_logprobs)) for r in reqs]
        return llm.chat(convs, sampling_params=params, use_tqdm=False)

    def run(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        llm = self._engine()
        self.calls += len(requests)
        try:
            outputs = self._chat(llm, requests)
            return [to_response(r, o.outputs[0]) for r, o in zip(requests, outputs)]
        except (ValueError, RuntimeError) as exc:  # one bad prompt (too long, too many images) fails the call
            log.warning("vllm batch failed (%s); answering its %d requests one by one", exc, len(requests))
        out = []
        for req in requests:
            try:
                out.append(to_response(req, self._chat(llm, [req])[0].outputs[0]))
            except (ValueError, RuntimeError) as exc:
                out.append(Response.failure(f"vllm: {type(exc).__name__}: {exc}"))
        return out

    def close(self) -> None:
        self._llm = None
