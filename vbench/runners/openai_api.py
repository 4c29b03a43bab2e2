"""OpenAI chat-completions runner: OpenAI itself, `vllm serve`, and any OpenAI-compatible server.

``choose`` is scored the way the server allows (``choice_method=auto`` finds out once; see
``vbench.runners.choice`` for the three methods):

* servers with prompt log-probs (``vllm serve``): every surface variant of every option is sent as the
  start of the assistant's reply (``continue_final_message``) with ``prompt_logprobs``, and its tokens'
  log-probs are summed: ``full-continuation-logprobs``, the same scoring as the hf runner.
* servers with only generated-token log-probs (OpenAI): the top-k first tokens of a one-token answer,
  for option sets where no option is a prefix of another: ``first-token-logprobs``.
* otherwise (no log-probs; options such as 1..10): a constrained prompt whose answer is parsed:
  ``constrained-sample``.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Literal

from pydantic import Field

from vbench.errors import MissingDependencyError
from vbench.images import ImageStore
from vbench.runners.api_common import ApiArgs, ApiRunner
from vbench.runners.choice import (CONSTRAINED, CONTINUATION, FIRST_TOKEN, constrained_messages, exclusive_logprobs,
                                   one_hot, parse_choice, pool_option_probs, prefix_free, surface_variants)
from vbench.types import ImagePart, Message, Request, Response, TextPart

log = logging.getLogger(__name__)
# words in a server's 400 that mean "no prompt log-probs / no assistant-prefix continuation here"
_NO_CONTINUATION = ("prompt_logprobs", "continue_final_message", "add_generation_prompt", "unrecognized")


class OpenAIArgs(ApiArgs):
    model: str = "gpt-4o"
    top_logprobs: int = Field(20, ge=1, le=20, description="alternatives per token read for `choose`")
    choice_method: Literal["auto", "continuation", "logprobs", "parsed"] = Field(
        "auto", description="continuation: prompt log-probs of each option (vllm serve); logprobs: first-token "
                            "top-k (prefix-free options); parsed: constrained answer; auto: the best the server has")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    send_temperature: bool = Field(True, description="send temperature/top_p (reasoning models refuse them)")
    image_detail: Literal["auto", "low", "high"] | None = None


def to_openai_messages(messages: tuple[Message, ...], data_url: Callable[[str], str],
                       detail: str | None = None) -> list[dict]:
    """vbench messages → chat-completions messages (images inline as base64 data URLs)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if all(isinstance(p, TextPart) for p in m.content):
            out.append({"role": m.role, "content": m.text})
            continue
        parts: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                url: dict[str, Any] = {"url": data_url(p.image)}
                if detail:
                    url["detail"] = detail
                parts.append({"type": "image_url", "image_url": url})
            elif p.text:
                parts.append({"type": "text", "text": p.text})
        out.append({"role": m.role, "content": parts})
    return out


def first_token_top_logprobs(choice: dict[str, Any]) -> list[tuple[str, float]] | None:
    """(token, logprob) alternatives of the first generated token, or None if the server sent none."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    first = content[0]
    tops = [(t["token"], t["logprob"]) for t in (first.get("top_logprobs") or [])]
    return tops or [(first["token"], first["logprob"])]


def reply_text(choice: dict[str, Any]) -> str:
    return (choice.get("message") or {}).get("content") or ""


class OpenAIRunner(ApiRunner[OpenAIArgs]):
    backend = "openai"
    default_key_env = "OPENAI_API_KEY"
    provider = "OpenAI"

    def __init__(self, args: OpenAIArgs, store: ImageStore | None = None, batch_size: int | str = "auto",
                 max_concurrency: int | None = None):
        super().__init__(args, store, batch_size, max_concurrency)
        method = args.choice_method
        self._continuation_ok: bool | None = None if method == "auto" else method == "continuation"
        self._logprobs_ok: bool | None = None if method in ("auto", "continuation") else method == "logprobs"
        self._scored_by: set[str] = set()  # scoring methods `choose` requests were answered with
        self._probe = asyncio.Lock()  # one request finds out whether the server scores continuations

    @property
    def choice_scoring(self) -> str | None:
        """How this run's `choose` requests were scored ("+"-joined if a run needed several); before any
        was answered, what the configuration fixes (None when that depends on the server or options)."""
        if self._scored_by:
            return "+".join(sorted(self._scored_by))
        return {"continuation": CONTINUATION, "parsed": CONSTRAINED}.get(self.args.choice_method)

    def _make_client(self, api_key: str) -> Any:
        try:
            import openai
        except ImportError:
            raise MissingDependencyError("the openai backend", "api") from None
        try:  # the HTTP library the SDK is built on (httpx2 in newer releases)
            import httpx2 as httpx
        except ImportError:
            import httpx  # type: ignore[no-redef]

        self._openai = openai
        self._raw_response = httpx.Response
        http = openai.DefaultAioHttpClient(timeout=self.args.timeout) if self.use_aiohttp() else None
        return openai.AsyncOpenAI(api_key=api_key, base_url=self.args.base_url, max_retries=0,
                                  timeout=self.args.timeout, http_client=http)

    def _status(self, exc: BaseException) -> int | None:
        return getattr(exc, "status_code", None) if isinstance(exc, self._openai.APIStatusError) else None

    def _is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self._openai.APIConnectionError)  # includes APITimeoutError

    def _params(self, req: Request, messages: tuple[Message, ...], max_tokens: int, **extra: Any) -> dict[str, Any]:
        g = req.gen
        params: dict[str, Any] = {
            "model": self.args.model, "messages": to_openai_messages(messages, self.data_url, self.args.image_detail),
            self.args.max_tokens_param: max_tokens, **extra}
        if self.args.send_temperature:
            params.update(temperature=g.temperature, top_p=g.top_p)
        if g.seed is not None:
            params["seed"] = g.seed
        if g.stop:
            params["stop"] = list(g.stop)
        return params

    async def _create(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        # The SDK's generic ``post`` (auth, URL, error mapping to typed exceptions stay the SDK's): our
        # bodies are already wire-ready JSON, and the typed ``create()`` re-walks every nested param and
        # builds a typed model of every reply, which costs more CPU per call than the HTTP itself and
        # caps throughput at high concurrency. Only three fields of the reply are read.
        async def post() -> dict[str, Any]:
            raw = await client.post("/chat/completions", body=params, cast_to=self._raw_response)
            return json.loads(raw.content)

        return await self.call(post)

    @staticmethod
    def _usage(completion: dict[str, Any]) -> dict[str, int]:
        u = completion.get("usage") or {}
        return {k: int(u[k]) for k in ("prompt_tokens", "completion_tokens") if u.get(k) is not None}

    async def _answer(self, client: Any, req: Request) -> Response:
        if req.kind == "choose":
            return await self._choose(client, req)
        completion = await self._create(client, self._params(req, req.messages, req.gen.max_tokens))
        return Response(text=reply_text(completion["choices"][0]), method="generate",
                        usage=self._usage(completion))

    async def _choose(self, client: Any, req: Request) -> Response:
        resp, how = None, CONSTRAINED
        if self._continuation_ok is not False:
            resp, how = await self._choose_continuation(client, req), CONTINUATION
        if resp is None and self._logprobs_ok is not False and prefix_free(req.options):
            resp, how = await self._choose_logprobs(client, req), FIRST_TOKEN
        if resp is None:
            resp, how = await self._choose_parsed(client, req), CONSTRAINED
        self._scored_by.add(how)
        return resp

    def _no_continuation(self, why: str) -> None:
        if self.args.choice_method == "continuation":
            raise RuntimeError(f"the server cannot score continuations ({why}); use choice_method=auto")
        if self._continuation_ok is not False:
            log.info("%s: no continuation scoring at %s (%s): first-token log-probs or a constrained answer",
                     self.backend, self.args.base_url or "the OpenAI API", why)
        self._continuation_ok = False

    async def _choose_continuation(self, client: Any, req: Request) -> Response | None:
        """Score every surface variant of every option as the start of the reply (prompt log-probs)."""
        variants = list(dict.fromkeys(v for o in req.options for v in surface_variants(o)))

        async def score(variant: str) -> dict[str, Any]:
            params = self._params(req, (*req.messages, Message.assistant(variant)), 1, prompt_logprobs=0,
                                  add_generation_prompt=False, continue_final_message=True)
            return await self._create(client, params)

        async def scores(probe: bool = False) -> list[dict[str, Any]] | None:
            try:
                first = [await score(variants[0])] if probe else []  # a server that refuses costs one call
                if first and not first[0].get("prompt_logprobs"):
                    self._no_continuation("no prompt log-probs in the reply")
                    return None
                rest = await asyncio.gather(self._create(client, self._params(req, req.messages, 1)),
                                            *(score(v) for v in variants[len(first):]))
                return [rest[0], *first, *rest[1:]]
            except self._openai.BadRequestError as exc:
                if any(w in str(exc).lower() for w in _NO_CONTINUATION):
                    self._no_continuation(" ".join(str(exc).split())[:200])
                    return None
                raise

        if self._continuation_ok is None:  # the first request probes; the others wait for its verdict
            async with self._probe:
                if self._continuation_ok is None:
                    return self._from_continuations(req, variants, await scores(probe=True))
        if self._continuation_ok is False:
            return None
        return self._from_continuations(req, variants, await scores())

    def _from_continuations(self, req: Request, variants: list[str], replies: list[dict[str, Any]] | None
                            ) -> Response | None:
        if replies is None:
            return None
        base, *conts = replies
        n_base = (base.get("usage") or {}).get("prompt_tokens")
        ids: dict[str, tuple[int, ...]] = {}
        lps: dict[str, float] = {}
        for variant, completion in zip(variants, conts):
            steps = (completion.get("prompt_logprobs") or [])[n_base or 0:]
            if not n_base or not steps or any(not s or len(s) != 1 for s in steps):
                self._no_continuation("no prompt log-probs in the reply")
                return None
            tokens = [next(iter(s.items())) for s in steps]
            if "".join(t.get("decoded_token") or "" for _, t in tokens).strip() != variant.strip():
                self._no_continuation(f"the chat template does not end the prompt with the reply {variant!r}")
                return None
            ids[variant] = tuple(int(k) for k, _ in tokens)
            lps[variant] = sum(float(t["logprob"]) for _, t in tokens)
        probs, mass = pool_option_probs(exclusive_logprobs(ids, lps), req.options)
        usage = {k: sum(self._usage(c).get(k, 0) for c in (base, *conts)) for k in ("prompt_tokens", "completion_tokens")}
        self._continuation_ok = True
        return Response(text=reply_text(base["choices"][0]), probs=probs, method="logprobs", option_mass=mass,
                        usage=usage)

    async def _choose_logprobs(self, client: Any, req: Request) -> Response | None:
        params = self._params(req, req.messages, 1, logprobs=True, top_logprobs=self.args.top_logprobs)
        try:
            completion = await self._create(client, params)
        except self._openai.BadRequestError as exc:
            if self.args.choice_method == "auto" and "logprob" in str(exc).lower():
                self._logprobs_ok = False  # this server/model has no log-probs: parse from now on
                return None
            raise
        choice = completion["choices"][0]
        tops = first_token_top_logprobs(choice)
        if tops is None:
            if self.args.choice_method == "auto":
                self._logprobs_ok = False
                return None
            raise RuntimeError("the server returned no logprobs (use choice_method=parsed or auto)")
        self._logprobs_ok = True
        probs, mass = pool_option_probs(tops, req.options)
        if mass <= 0:  # the top tokens name no option: fall back to parsing for this request
            return None
        return Response(text=reply_text(choice), probs=probs, method="logprobs", option_mass=mass,
                        usage=self._usage(completion))

    async def _choose_parsed(self, client: Any, req: Request) -> Response:
        params = self._params(req, constrained_messages(req), max(req.gen.max_tokens, 16))
        completion = await self._create(client, params)
        text = reply_text(completion["choices"][0])
        picked = parse_choice(text, req.options)
        return Response(text=text, probs=one_hot(picked, req.options), method="parsed",
                        option_mass=1.0 if picked else 0.0, usage=self._usage(completion))
