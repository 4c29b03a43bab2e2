"""Anthropic messages runner (official ``anthropic`` SDK, async).

The API has no log-probs, so ``choose`` is a constrained prompt whose answer is parsed (method
``parsed``, probabilities one-hot on the parsed option).
"""
from __future__ import annotations

from typing import Any, Callable

from pydantic import Field

from vbench.errors import MissingDependencyError
from vbench.runners.api_common import ApiArgs, ApiRunner
from vbench.runners.choice import CONSTRAINED, constrained_messages, one_hot, parse_choice
from vbench.types import ImagePart, Message, Request, Response


class AnthropicArgs(ApiArgs):
    model: str = "claude-sonnet-4-5"
    send_temperature: bool = Field(False, description="send temperature/top_p in the body (older models and "
                                                     "compatible servers take them; current models refuse them)")


def to_anthropic(messages: tuple[Message, ...], image_b64: Callable[[str], tuple[str, str]]) -> tuple[str, list[dict]]:
    """vbench messages → (system text, messages). Consecutive turns of one role are merged (the API
    wants user/assistant alternating); empty text blocks are dropped (the API rejects them)."""
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text)
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        blocks: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                mime, data = image_b64(p.image)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}})
            elif p.text:
                blocks.append({"type": "text", "text": p.text})
        if out and out[-1]["role"] == m.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": m.role, "content": blocks})
    return system, out


class AnthropicRunner(ApiRunner[AnthropicArgs]):
    backend = "anthropic"
    choice_scoring = CONSTRAINED  # no log-probs: a constrained answer, parsed
    default_key_env = "ANTHROPIC_API_KEY"
    provider = "Anthropic"

    def _make_client(self, api_key: str) -> Any:
        try:
            import anthropic
        except ImportError:
            raise MissingDependencyError("the anthropic backend", "api") from None
        self._sdk = anthropic
        http = anthropic.DefaultAioHttpClient(timeout=self.args.timeout) if self.use_aiohttp() else None
        return anthropic.AsyncAnthropic(api_key=api_key, base_url=self.args.base_url, max_retries=0,
                                        timeout=self.args.timeout, http_client=http)

    def _status(self, exc: BaseException) -> int | None:
        return getattr(exc, "status_code", None) if isinstance(exc, self._sdk.APIStatusError) else None

    def _is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self._sdk.APIConnectionError)  # includes APITimeoutError

    async def _send(self, client: Any, req: Request, messages: tuple[Message, ...], max_tokens: int) -> Response:
        system, msgs = to_anthropic(messages, self.image_b64)
        g = req.gen
        params: dict[str, Any] = {"model": self.args.model, "messages": msgs, "max_tokens": max_tokens}
        if system:
            params["system"] = system
        if self.args.send_temperature:
            sampling: dict[str, float] = {"temperature": min(g.temperature, 1.0)}
            if g.top_p < 1.0:
                sampling["top_p"] = g.top_p
            params["extra_body"] = sampling
        if g.stop:
            params["stop_sequences"] = list(g.stop)
        msg = await self.call(lambda: client.messages.create(**params))
        text = "".join(getattr(b, "text", "") for b in msg.content if getattr(b, "type", "") == "text")
        usage = {"prompt_tokens": msg.usage.input_tokens, "completion_tokens": msg.usage.output_tokens}
        return Response(text=text, method="generate", usage=usage)

    async def _answer(self, client: Any, req: Request) -> Response:
        if req.kind != "choose":
            return await self._send(client, req, req.messages, req.gen.max_tokens)
        resp = await self._send(client, req, constrained_messages(req), max(req.gen.max_tokens, 16))
        picked = parse_choice(resp.text, req.options)
        return resp.model_copy(update={"probs": one_hot(picked, req.options), "method": "parsed",
                                       "option_mass": 1.0 if picked else 0.0})
