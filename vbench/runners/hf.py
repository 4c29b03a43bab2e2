"""transformers backend: AutoModelForImageTextToText + AutoProcessor, padded batches, log-prob choices.

Weights load on the first ``run`` call. ``generate`` requests are grouped by sampling parameters and
image count, left-padded and generated together, each request sampling from its own generator seeded by
its ``gen.seed`` (see ``row_sampler``); ``choose`` requests read the next-token distribution
(single-token variants) and score multi-token variants by their full continuation. With
``prefix_cache_mb`` > 0, generation starts each row from the longest stored prefix of its conversation
(``hf_prefix``), which changes what is computed, never the tokens.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from vbench.errors import MissingDependencyError, UsageError
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.choice import CONTINUATION, exclusive_logprobs, pool_option_probs, surface_variants
from vbench.types import ImagePart, Request, Response, all_answered

if TYPE_CHECKING:
    from vbench.runners.hf_prefix import PrefixReuse

log = logging.getLogger(__name__)


class HFArgs(RunnerArgs):
    pretrained: str
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    device: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    prefix_cache_mb: int = Field(2048, ge=0, description="bytes of past key/values kept for prefix reuse; 0: off")

    @field_validator("pretrained")
    @classmethod
    def _local_path_exists(cls, value: str) -> str:
        looks_local = value.startswith((".", "/", "~")) or Path(value).expanduser().exists() or value.count("/") > 1
        if looks_local and not Path(value).expanduser().is_dir():
            raise ValueError(f"model path does not exist: {value}")
        return str(Path(value).expanduser()) if looks_local else value


def _messages_key(req: Request) -> str:
    return json.dumps([m.model_dump(mode="json") for m in req.messages], sort_keys=True)


def _digests(req: Request) -> list[str]:
    """The request's images in the order the chat template places them."""
    return [image for m in req.messages for image in m.images]


def _stop_at(text: str, stops: tuple[str, ...]) -> str:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text


class HFRunner(Runner[HFArgs]):
    backend = "hf"
    Args = HFArgs
    choice_scoring = CONTINUATION

    def __init__(self, args: HFArgs, store=None, batch_size="auto", **_: Any):
        super().__init__(args, store, batch_size)
        self._model: Any = None  # transformers model and processor, loaded on the first run
        self._proc: Any = None
        self._device: str | None = None
        self._variant_cache: dict[tuple[str, ...], dict[str, list[int]]] = {}
        self._next_reads: dict[tuple[str, ...], tuple[list[str], list[int]]] = {}
        self._prompt_cache: dict[str, str] = {}  # chat (images as placeholders) -> template text
        self._prefix: PrefixReuse | None = None  # once loaded, when on and the model allows it

    def fingerprint_fields(self) -> dict[str, Any]:
        fields = super().fingerprint_fields()
        fields.pop("device", None)  # where it runs does not change the answers we key on
        fields.pop("attn_implementation", None)
        fields.pop("prefix_cache_mb", None)  # reuse changes what is computed, not the answers
        # responses cached by the former per-batch seeding sampled other text: never replay them
        fields["sampling"] = "per-request-inverse-cdf"
        return fields

    def auto_batch_size(self) -> int:
        return 16

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            import transformers
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as exc:
            raise MissingDependencyError("the hf backend", "hf") from exc
        transformers.utils.logging.disable_progress_bar()
        a = self.args
        device = a.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype: Any = a.dtype
        if dtype == "auto":
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, dtype)
        kwargs: dict[str, Any] = {"revision": a.revision, "trust_remote_code": a.trust_remote_code}
        try:
            proc = AutoProcessor.from_pretrained(a.pretrained, **kwargs)
            model: Any = AutoModelForImageTextToText.from_pretrained(
                a.pretrained, dtype=dtype, **kwargs,
                **({"attn_implementation": a.attn_implementation} if a.attn_implementation else {}))
        except (ImportError, MemoryError):
            raise
        except Exception as exc:  # missing/corrupt files, wrong architecture, bad weights: the user's input
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise UsageError(f"cannot load model {a.pretrained!r}: {type(exc).__name__}: {first}") from None
        tok = getattr(proc, "tokenizer", proc)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self._proc, self._device = proc, device
        self._model = model.to(device).eval()
        log.info("loaded %s on %s (%s)", a.pretrained, device, dtype)
        if a.prefix_cache_mb:
            from vbench.runners.hf_prefix import PrefixReuse, reuse_blocker

            blocker = reuse_blocker(self._model)
            if blocker:
                log.debug("prefix reuse off for %s: %s", a.pretrained, blocker)
            else:
                self._prefix = PrefixReuse(self._model, tok.pad_token_id, a.prefix_cache_mb * 2**20)

    @property
    def tokenizer(self):
        return getattr(self._proc, "tokenizer", self._proc)

    # -- request → model inputs -------------------------------------------------------------
    def _chat(self, req: Request) -> tuple[list[dict], list]:
        chat, images = [], []
        for msg in req.messages:
            parts = []
            for part in msg.content:
                if isinstance(part, ImagePart):
                    parts.append({"type": "image"})
                    images.append(self.store.open(part.image))
                else:
                    parts.append({"type": "text", "text": part.text})
            chat.append({"role": msg.role, "content": parts})
        return chat, images

    def _prompt(self, chat: list[dict]) -> str:
        """The chat template's text for ``chat``, memoised: single-turn tasks ask the same words over many
        images, and rendering the Jinja template costs more per request than the model on small inputs."""
        key = json.dumps(chat, sort_keys=True)
        prompt = self._prompt_cache.get(key)
        if prompt is None:
            prompt = self._proc.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            if len(self._prompt_cache) >= 4096:
                self._prompt_cache.clear()
            self._prompt_cache[key] = prompt
        return prompt

    def _encode(self, reqs: list[Request]):
        prompts, images = [], []
        for req in reqs:
            chat, imgs = self._chat(req)
            prompts.append(self._prompt(chat))
            images.append(imgs)
        kwargs: dict[str, Any] = {"text": prompts, "return_tensors": "pt", "padding": True}
        if any(images):
            kwargs["images"] = images
        inputs = self._proc(**kwargs)
        return inputs.to(self._device)

    # -- public -------------------------------------------------------------------------------
    def run(self, requests: list[Request]) -> list[Response]:
        self._load()
        self.calls += len(requests)
        out: list[Response | None] = [None] * len(requests)
        # A choose request with the same messages as a generate request reads its options from that
        # generation's first-step logits: the same next-token distribution, one forward pass fewer.
        first_gen: dict[str, int] = {}
        chats = [_messages_key(req) for req in requests]
        for i, req in enumerate(requests):
            if req.kind == "generate":
                first_gen.setdefault(chats[i], i)
        fused = {i: first_gen[chats[i]] for i, req in enumerate(requests)
                 if req.kind == "choose" and chats[i] in first_gen and self._single_token(req.options)}
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, req in enumerate(requests):
            if i in fused:
                continue
            n_img = sum(len(m.images) for m in req.messages)
            g = req.gen
            key = (req.kind, n_img, g.temperature, g.max_tokens, g.top_p) if req.kind == "generate" else (req.kind, n_img)
            groups[key].append(i)
        wanted = set(fused.values())
        first_lp: dict[int, Any] = {}
        for key, idx in groups.items():
            batch = [requests[i] for i in idx]
            try:
                if key[0] == "generate":
                    answers, lps = self._generate(batch, want_first=any(i in wanted for i in idx))
                    first_lp.update({i: lp for i, lp in zip(idx, lps)} if lps is not None else {})
                else:
                    answers = self._choose(batch)
            except (RuntimeError, ValueError) as exc:  # e.g. OOM or an input the processor rejects
                msg = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                answers = [Response.failure(msg) for _ in batch]
            for i, resp in zip(idx, answers):
                out[i] = resp
        for i, j in fused.items():
            source = out[j]
            out[i] = (self._probs_from_next(requests[i], first_lp[j]) if j in first_lp
                      else Response.failure((source.error if source is not None else None) or "generation failed"))
        return all_answered(out)

    def _generate(self, reqs: list[Request], want_first: bool = False) -> tuple[list[Response], Any]:
        import torch

        g = reqs[0].gen
        inputs = self._encode(reqs)
        # Sampling draws inside RowSeededSampler (one generator per request, seeded by its gen.seed), so
        # generate itself decodes greedily: a request's text does not depend on its batch-mates.
        gen_kwargs: dict[str, Any] = {"max_new_tokens": g.max_tokens, "do_sample": False}
        if g.temperature > 0:
            from transformers import LogitsProcessorList

            from vbench.runners.row_sampler import RowSeededSampler

            seeds = [r.gen.seed if r.gen.seed is not None else 0 for r in reqs]
            gen_kwargs["logits_processor"] = LogitsProcessorList(
                [RowSeededSampler(seeds, g.temperature, g.top_p, g.max_tokens, device=self._device)])
        if want_first:
            gen_kwargs.update(output_logits=True, return_dict_in_generate=True)
        prefix = self._prefix
        blocked = prefix.unsupported_inputs(inputs) if prefix is not None else "off"
        if prefix is not None and blocked is None:
            try:
                out, width = prefix.generate(inputs, [_digests(r) for r in reqs], gen_kwargs)
                sequences = out.sequences
            except torch.OutOfMemoryError:
                raise
            except (TypeError, AttributeError, KeyError, IndexError, RuntimeError, ValueError) as exc:
                # an architecture whose generate does not continue from a cache this way: plain generation
                log.debug("prefix reuse off for %s: %s: %s", self.args.pretrained, type(exc).__name__, exc)
                self._prefix, blocked = None, "failed"
        if blocked is not None:
            from vbench.runners.hf_prefix import PrefillStats

            if blocked != "off":
                log.debug("prefix reuse skipped: %s", blocked)
            PrefillStats.without_reuse(inputs["attention_mask"]).log()
            with torch.inference_mode():
                out = self._model.generate(**inputs, **gen_kwargs)
            sequences, width = (out.sequences if want_first else out), inputs["input_ids"].shape[1]
        first = torch.log_softmax(out.logits[0].float(), dim=-1) if want_first else None
        new = sequences[:, width:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id
        return [Response(text=_stop_at(t.strip(), r.gen.stop), method="generate",
                         usage={"completion_tokens": int((row != pad).sum())})
                for t, r, row in zip(texts, reqs, new)], first

    def _variant_ids(self, options: tuple[str, ...]) -> dict[str, list[int]]:
        cached = self._variant_cache.get(options)
        if cached is None:
            tok = self.tokenizer
            cached = {v: tok.encode(v, add_special_tokens=False) for o in options for v in surface_variants(o)}
            self._variant_cache[options] = cached
        return cached

    def _single_token(self, options: tuple[str, ...]) -> bool:
        return all(len(ids) == 1 for ids in self._variant_ids(options).values() if ids)

    def _pooled(self, options: tuple[str, ...], lps: dict[str, float]) -> Response:
        """Variant log-probs → option probabilities (longer options' mass off their prefixes, pooled)."""
        probs, mass = pool_option_probs(self._exclusive(options, lps), options)
        return Response(probs=probs, option_mass=mass, method="logprobs")

    def _next_token_reads(self, options: tuple[str, ...]) -> tuple[list[str], list[int]]:
        """The variants a fused choice reads and their token ids: the first variant of each distinct id, in
        variant order, which is all ``exclusive_logprobs`` keeps of single-token variants (none is a proper
        prefix of another), so pooling these directly gives the same floats. Memoised per option set."""
        reads = self._next_reads.get(options)
        if reads is None:
            firsts: dict[int, str] = {}
            for v, ids in self._variant_ids(options).items():
                if len(ids) == 1:
                    firsts.setdefault(ids[0], v)
            reads = self._next_reads[options] = (list(firsts.values()), list(firsts))
        return reads

    def _probs_from_next(self, req: Request, next_lp_row) -> Response:
        variants, ids = self._next_token_reads(req.options)
        values = next_lp_row[ids].tolist() if ids else []  # one gather, not one per variant
        probs, mass = pool_option_probs(zip(variants, values), req.options)
        return Response(probs=probs, option_mass=mass, method="logprobs")

    def _choose(self, reqs: list[Request]) -> list[Response]:
        import torch

        inputs = self._encode(reqs)
        with torch.inference_mode():
            logits = self._model(**inputs).logits[:, -1, :].float()
        next_lp = torch.log_softmax(logits, dim=-1)
        results: list[dict[str, float]] = [dict() for _ in reqs]
        multi: dict[tuple[int, ...], list[tuple[int, str]]] = defaultdict(list)
        for r, req in enumerate(reqs):
            seen: set[tuple[int, ...]] = set()
            for variant, ids in self._variant_ids(req.options).items():
                if not ids or tuple(ids) in seen:
                    continue
                seen.add(tuple(ids))
                if len(ids) == 1:
                    results[r][variant] = float(next_lp[r, ids[0]])
                else:
                    multi[tuple(ids)].append((r, variant))
        for cont, users in multi.items():
            rows = sorted({r for r, _ in users})
            scores = self._continuation_logprob(inputs, rows, list(cont), next_lp)
            for r, variant in users:
                results[r][variant] = scores[rows.index(r)]
        return [self._pooled(req.options, lps) for req, lps in zip(reqs, results)]

    def _exclusive(self, options: tuple[str, ...], lps: dict[str, float]) -> dict[str, float]:
        """P("1" as a whole answer) excludes P("10") (see ``choice.exclusive_logprobs``)."""
        return exclusive_logprobs(self._variant_ids(options), lps)

    def _continuation_logprob(self, inputs, rows: list[int], ids: list[int], next_lp) -> list[float]:
        """log P(ids | prompt) for the given rows. Prompts are left-padded, so the continuation is appended
        on the right of the whole batch (one extra forward pass per distinct multi-token variant)."""
        import torch

        n = inputs["input_ids"].shape[0]
        cont = torch.tensor(ids, device=self._device).unsqueeze(0).expand(n, -1)
        sub = dict(inputs)
        sub["input_ids"] = torch.cat([inputs["input_ids"], cont], dim=1)
        sub["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(cont)], dim=1)
        for key in ("token_type_ids", "mm_token_type_ids"):
            if key in sub:
                sub[key] = torch.cat([inputs[key], torch.zeros_like(cont)], dim=1)
        with torch.inference_mode():
            logits = self._model(**sub).logits.float()
        length = inputs["input_ids"].shape[1]
        lp = torch.log_softmax(logits[:, length:length + len(ids) - 1, :], dim=-1)
        total = next_lp[:, ids[0]].clone()
        for j in range(1, len(ids)):
            total += lp[:, j - 1, ids[j]]
        return [float(total[r]) for r in rows]
