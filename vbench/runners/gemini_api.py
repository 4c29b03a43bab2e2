"""Gemini generateContent runner (official ``google-genai`` SDK, async).

``choose`` is a constrained prompt whose answer is parsed (method ``parsed``). Thinking models count
thinking tokens against ``max_output_tokens``; set ``thinking_budget=0`` (the zoo does for Flash) so a
two-token rating is not spent on thoughts.
"""
from __future__ import annotations

import base64
from typing import Any

from pydantic import Field

from vbench.errors import MissingDependencyError
from vbench.runners.api_common import ApiArgs, ApiRunner
from vbench.runners.choice import CONSTRAINED, constrained_messages, one_hot, parse_choice
from vbench.types import ImagePart, Message, Request, Response


class GeminiArgs(ApiArgs):
    model: str = "gemini-2.5-flash"
    thinking_budget: int | None = Field(None, ge=-1, description="0 = no thinking, -1 = dynamic, None = model default")
    api_version: str | None = None


class GeminiRunner(ApiRunner[GeminiArgs]):
    backend = "gemini"
    choice_scoring = CONSTRAINED  # no log-probs: a constrained answer, parsed
    default_key_env = "GEMINI_API_KEY"
    provider = "Gemini"

    def _make_client(self, api_key: str) -> Any:
        try:
            from google import genai
            from google.genai import errors, types
        except ImportError:
            raise MissingDependencyError("the gemini backend", "api") from None
        self._errors, self._types = errors, types
        self._transient = _transient_errors()
        opts: dict[str, Any] = {"timeout": int(self.args.timeout * 1000),
                                "retry_options": types.HttpRetryOptions(attempts=1)}  # our retries, not the SDK's
        if self.args.base_url:
            opts["base_url"] = self.args.base_url
        if self.args.api_version:
            opts["api_version"] = self.args.api_version
        if not self.use_aiohttp():  # the SDK picks aiohttp when installed unless given an httpx client
            try:
                import httpx2 as httpx
            except ImportError:
                import httpx  # type: ignore[no-redef]
            opts["httpx_async_client"] = httpx.AsyncClient(timeout=self.args.timeout)
        return genai.Client(api_key=api_key, http_options=types.HttpOptions(**opts))

    def _status(self, exc: BaseException) -> int | None:
        return getattr(exc, "code", None) if isinstance(exc, self._errors.APIError) else None

    def _is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self._transient)

    def _contents(self, messages: tuple[Message, ...]) -> tuple[str, list[Any]]:
        t = self._types
        system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
        contents = []
        for m in messages:
            if m.role == "system":
                continue
            parts = []
            for p in m.content:
                if isinstance(p, ImagePart):
                    mime, data = self.image_b64(p.image)
                    parts.append(t.Part(inline_data=t.Blob(data=base64.b64decode(data), mime_type=mime)))
                elif p.text:
                    parts.append(t.Part(text=p.text))
            contents.append(t.Content(role="model" if m.role == "assistant" else "user", parts=parts))
        return system, contents

    async def _send(self, client: Any, req: Request, messages: tuple[Message, ...], max_tokens: int) -> Response:
        t = self._types
        system, contents = self._contents(messages)
        g = req.gen
        cfg: dict[str, Any] = {"temperature": g.temperature, "top_p": g.top_p, "max_output_tokens": max_tokens,
                               "candidate_count": 1}
        if system:
            cfg["system_instruction"] = system
        if g.seed is not None:
            cfg["seed"] = g.seed
        if g.stop:
            cfg["stop_sequences"] = list(g.stop)
        if self.args.thinking_budget is not None:
            cfg["thinking_config"] = t.ThinkingConfig(thinking_budget=self.args.thinking_budget)
        config = t.GenerateContentConfig(**cfg)
        reply = await self.call(lambda: client.aio.models.generate_content(model=self.args.model, contents=contents,
                                                                           config=config))
        text = "".join(p.text for c in (reply.candidates or [])[:1] for p in ((c.content and c.content.parts) or [])
                       if p.text and not p.thought)
        u = reply.usage_metadata
        usage = {"prompt_tokens": u.prompt_token_count or 0, "completion_tokens": u.candidates_token_count or 0} if u else {}
        return Response(text=text, method="generate", usage=usage)

    async def _answer(self, client: Any, req: Request) -> Response:
        if req.kind != "choose":
            return await self._send(client, req, req.messages, req.gen.max_tokens)
        resp = await self._send(client, req, constrained_messages(req), max(req.gen.max_tokens, 16))
        picked = parse_choice(resp.text, req.options)
        return resp.model_copy(update={"probs": one_hot(picked, req.options), "method": "parsed",
                                       "option_mass": 1.0 if picked else 0.0})


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Connection-level failures of whichever HTTP stack the SDK uses."""
    kinds: list[type[BaseException]] = [TimeoutError, ConnectionError]
    for mod, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                       ("aiohttp", ("ClientConnectionError", "ClientPayloadError"))):
        try:
            module = __import__(mod)
        except ImportError:
            continue
        kinds.extend(getattr(module, n) for n in names)
    return tuple(kinds)
