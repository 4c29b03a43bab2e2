"""A loopback HTTP server speaking three wire formats, for testing API runners without the internet.

One ``FakeAPIServer`` (``aiohttp.web`` on its own event-loop thread, keep-alive, 127.0.0.1 only)
answers OpenAI ``POST …/chat/completions``, Anthropic ``POST /v1/messages`` and Gemini
``POST /v1beta/models/M:generateContent``. Answers come from a *brain* (prompt → text + first-token
log-probs, or a distribution over whole answers that a toy tokenizer splitting digits turns into token
log-probs). Like ``vllm serve``, the OpenAI route can return ``prompt_logprobs`` and continue a final
assistant message (``continue_final_message``); like OpenAI, it can instead refuse those arguments. Latency and faults can be injected: 429 with Retry-After, 500, dropped connections
(closed without a response) and hangs longer than the client's timeout, at a random rate and/or by a
deterministic rule per prompt and attempt. Latency can also vary per request, deterministically from its
seed: a uniform jitter and a share of stragglers answering much later (``request_latency``). Every
attempt is logged (with when it was answered) for the tests to inspect.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from aiohttp import web

from vbench.testing.toy_tokens import AnswerTokens, templated, toy_tokens

FAULT_KINDS = ("429", "500", "drop", "timeout")


@dataclass
class Prompt:
    """The wire-independent view of one request."""

    wire: str
    model: str
    system: str
    texts: list[str]
    images: list[bytes]
    max_tokens: int | None
    logprobs: bool
    top_logprobs: int
    seed: int | None
    api_key: str
    temperature: float | None = None
    prompt_logprobs: int | None = None
    reply_prefix: str | None = None  # a final assistant message to continue (continue_final_message)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def key(self) -> str:
        """Identity of the request across retries (not of the attempt)."""
        h = hashlib.sha256(f"{self.wire}|{self.model}|{self.system}|{self.texts}|{self.seed}|{self.max_tokens}"
                           f"|{self.logprobs}|{self.reply_prefix}".encode())
        for img in self.images:
            h.update(hashlib.sha256(img).digest())
        return h.hexdigest()[:16]


@dataclass
class Answer:
    """``top_logprobs``: first-token alternatives; ``answers``: P(whole answer), from which token
    log-probs are derived with ``toy_tokens`` (when given, ``top_logprobs`` may be left empty)."""

    text: str
    top_logprobs: list[tuple[str, float]] = field(default_factory=list)
    answers: dict[str, float] | None = None


Brain = Callable[[Prompt], Answer]


def rating_of(prompt: Prompt) -> int:
    """A deterministic 1-7 'rating' of a prompt (from its first image, else its text)."""
    data = prompt.images[0] if prompt.images else prompt.text.encode()
    return 1 + hashlib.sha256(data).digest()[0] % 7


def rating_brain(prompt: Prompt) -> Answer:
    """Answers a digit 1-7; its log-probs spread over surface variants, a neighbour and non-options."""
    r = rating_of(prompt)
    alt = r % 7 + 1
    top = [(str(r), math.log(0.55)), (str(alt), math.log(0.2)), (f" {r}", math.log(0.15)),
           ("I", math.log(0.05)), ("The", math.log(0.03))]
    return Answer(text=str(r), top_logprobs=top)


@dataclass
class Faults:
    rate: float = 0.0                       # share of attempts that fail at random
    kinds: tuple[str, ...] = FAULT_KINDS    # failure kinds drawn from, uniformly
    retry_after: float | None = 0.05        # seconds, sent with 429s (None: no header)
    hang: float = 3.0                       # a "timeout" fault answers only after this many seconds
    seed: int = 0
    rule: Callable[[Prompt, int], str | None] | None = None  # (prompt, attempt 0..) → kind or None


@dataclass
class Event:
    wire: str
    key: str
    attempt: int
    outcome: str  # "ok" or a fault kind or an HTTP status
    t: float
    prompt: Prompt
    answered: float | None = None  # time.monotonic() when the answer was written (None: never)


@dataclass(frozen=True)
class Latency:
    """Seconds before answering: ``base`` + ``jitter`` × u + (``slow`` if the request is a straggler),
    where u and straggling are drawn from the request's seed (else its key): the same request always
    takes the same time, so a benchmark can compute the critical path from the records' seeds."""

    base: float = 0.0
    jitter: float = 0.0
    slow_rate: float = 0.0
    slow: float = 0.0

    def of(self, token: str) -> float:
        h = hashlib.sha256(f"latency|{token}".encode()).digest()
        u, v = int.from_bytes(h[:4], "big") / 2**32, int.from_bytes(h[4:8], "big") / 2**32
        return self.base + self.jitter * u + (self.slow if v < self.slow_rate else 0.0)


def request_latency(latency: Latency, prompt: Prompt) -> float:
    return latency.of(str(prompt.seed) if prompt.seed is not None else prompt.key())


def _data_url_bytes(url: str) -> bytes:
    head, _, payload = url.partition(",")
    return base64.b64decode(payload) if ";base64" in head else payload.encode()


def _parse_openai(body: dict, headers) -> Prompt:
    system, texts, images = [], [], []
    messages = list(body.get("messages", []))
    prefix = None
    if body.get("continue_final_message") and messages and messages[-1].get("role") == "assistant":
        content = messages.pop().get("content")
        prefix = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    for m in messages:
        content = m.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else (content or [])
        for p in parts:
            if p.get("type") == "text":
                (system if m.get("role") in ("system", "developer") else texts).append(p["text"])
            elif p.get("type") == "image_url":
                images.append(_data_url_bytes(p["image_url"]["url"]))
    auth = headers.get("Authorization", "")
    return Prompt("openai", body.get("model", ""), "\n".join(system), texts, images,
                  body.get("max_tokens") or body.get("max_completion_tokens"), bool(body.get("logprobs")),
                  int(body.get("top_logprobs") or 0), body.get("seed"), auth.removeprefix("Bearer "),
                  body.get("temperature"), body.get("prompt_logprobs"), prefix)


def _parse_anthropic(body: dict, headers) -> Prompt:
    sys_field = body.get("system") or ""
    system = sys_field if isinstance(sys_field, str) else "\n".join(b.get("text", "") for b in sys_field)
    texts, images = [], []
    for m in body.get("messages", []):
        content = m.get("content")
        for p in ([{"type": "text", "text": content}] if isinstance(content, str) else content):
            if p.get("type") == "text":
                texts.append(p["text"])
            elif p.get("type") == "image":
                images.append(base64.b64decode(p["source"]["data"]))
    return Prompt("anthropic", body.get("model", ""), system, texts, images, body.get("max_tokens"), False, 0,
                  None, headers.get("x-api-key") or headers.get("Authorization", "").removeprefix("Bearer "),
                  body.get("temperature"))


def _parse_gemini(body: dict, headers, model: str) -> Prompt:
    def pick(d: dict, camel: str, snake: str) -> Any:
        return d.get(camel, d.get(snake))

    si = pick(body, "systemInstruction", "system_instruction") or {}
    system = "\n".join(p.get("text", "") for p in si.get("parts", []))
    texts, images = [], []
    for c in body.get("contents", []):
        for p in c.get("parts", []):
            if "text" in p:
                texts.append(p["text"])
            inline = pick(p, "inlineData", "inline_data")
            if inline:  # the SDK sends URL-safe base64 without padding
                data = inline["data"].replace("-", "+").replace("_", "/")
                images.append(base64.b64decode(data + "=" * (-len(data) % 4), validate=True))
    cfg = pick(body, "generationConfig", "generation_config") or {}
    return Prompt("gemini", model, system, texts, images, pick(cfg, "maxOutputTokens", "max_output_tokens"),
                  bool(pick(cfg, "responseLogprobs", "response_logprobs")), int(cfg.get("logprobs") or 0),
                  cfg.get("seed"), headers.get("x-goog-api-key", ""), cfg.get("temperature"))


class FakeAPIServer:
    """Start with ``with FakeAPIServer(...) as srv:``; ``srv.openai_url`` etc. are the SDK base URLs."""

    def __init__(self, brain: Brain = rating_brain, latency: float | Latency = 0.0, faults: Faults | None = None,
                 logprobs: str = "return", echo_key: bool = False, port: int = 0, prompt_logprobs: str = "reject"):
        self.brain = brain
        # "return" (like vllm serve) | "reject" (400, like OpenAI) | "ignore" (answers without them)
        self.prompt_logprobs = prompt_logprobs
        self.latency = latency if isinstance(latency, Latency) else Latency(base=latency)
        self.faults = faults or Faults()
        self.logprobs = logprobs  # "return" | "ignore" | "reject" (400 when asked for logprobs)
        self.echo_key = echo_key  # 401 whose message quotes the key, to test scrubbing
        self.events: list[Event] = []
        self.inflight = 0
        self.max_inflight = 0  # most requests handled at once (a concurrency bound is checked with it)
        self._attempts: dict[str, int] = {}
        self._rng = random.Random(self.faults.seed)
        self._want_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._want_port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> "FakeAPIServer":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-api", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "FakeAPIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- inspection ------------------------------------------------------------------------------
    def outcomes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in list(self.events):
            out[e.outcome] = out.get(e.outcome, 0) + 1
        return out

    def ok_keys(self) -> list[str]:
        return [e.key for e in list(self.events) if e.outcome == "ok"]

    # -- request handling ------------------------------------------------------------------------
    def _fault_for(self, prompt: Prompt, attempt: int) -> str | None:
        f = self.faults
        if f.rule is not None:
            kind = f.rule(prompt, attempt)
            if kind:
                return kind
        if f.rate > 0 and self._rng.random() < f.rate:
            return self._rng.choice(f.kinds)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._respond(request)
        finally:
            self.inflight -= 1

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            body = json.loads(await request.read() or b"{}")
            if path.endswith("/chat/completions"):
                prompt = _parse_openai(body, request.headers)
            elif path.endswith("/v1/messages"):
                prompt = _parse_anthropic(body, request.headers)
            elif path.endswith(":generateContent"):
                prompt = _parse_gemini(body, request.headers, path.rsplit("/", 1)[-1].split(":")[0])
            else:
                return web.json_response({"error": {"message": f"no route {path}"}}, status=404)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"error": {"message": f"bad request: {exc}"}}, status=400)
        key = prompt.key()
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        fault = "401" if self.echo_key else self._fault_for(prompt, attempt)
        if fault is None and prompt.logprobs and self.logprobs == "reject":
            fault = "400-logprobs"
        if fault is None and self.prompt_logprobs == "reject" and (prompt.prompt_logprobs is not None
                                                                   or prompt.reply_prefix is not None):
            fault = "400-prompt_logprobs"
        event = Event(prompt.wire, key, attempt, fault or "ok", time.monotonic(), prompt)
        self.events.append(event)
        wait = request_latency(self.latency, prompt)
        if wait:
            await asyncio.sleep(wait)
        if fault in ("drop", "timeout"):
            if fault == "timeout":
                await asyncio.sleep(self.faults.hang)
            if request.transport is not None:
                request.transport.abort()  # closed without a response
            raise asyncio.CancelledError  # nothing more to write on this connection
        if fault is not None:
            status = int(fault.split("-")[0])
            headers = {}
            if status == 429 and self.faults.retry_after is not None:
                headers["Retry-After"] = f"{self.faults.retry_after:g}"
            message = {"429": "rate limited", "500": "internal error", "400-logprobs": "logprobs is not supported",
                       "400-prompt_logprobs": "Unrecognized request argument supplied: prompt_logprobs",
                       "401": f"Incorrect API key provided: {prompt.api_key}"}.get(fault, fault)
            return web.json_response(self._error_body(prompt.wire, status, message), status=status, headers=headers)
        response = web.json_response(self._ok_body(prompt, self.brain(prompt)))
        event.answered = time.monotonic()
        return response

    @staticmethod
    def _error_body(wire: str, status: int, message: str) -> dict:
        if wire == "anthropic":
            kind = {429: "rate_limit_error", 500: "api_error", 401: "authentication_error"}.get(status, "invalid_request_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        if wire == "gemini":
            state = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 401: "UNAUTHENTICATED"}.get(status, "INVALID_ARGUMENT")
            return {"error": {"code": status, "message": message, "status": state}}
        return {"error": {"message": message, "type": "error", "code": status}}

    def _ok_body(self, prompt: Prompt, answer: Answer) -> dict:
        text = answer.text
        n_out = max(1, len(text.split()))
        if prompt.max_tokens is not None and prompt.max_tokens <= 1 and answer.top_logprobs:
            text = answer.top_logprobs[0][0]
        if prompt.wire == "anthropic":
            return {"id": "msg_fake", "type": "message", "role": "assistant", "model": prompt.model,
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": n_out}}
        if prompt.wire == "gemini":
            return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                                    "index": 0}],
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": n_out,
                                      "totalTokenCount": 10 + n_out},
                    "modelVersion": prompt.model}
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop", "logprobs": None}
        tokens = AnswerTokens(answer.answers, answer.top_logprobs)
        if prompt.logprobs and self.logprobs == "return":
            k = max(1, prompt.top_logprobs)
            tops = (tokens.first_tokens(k) if answer.answers is not None else answer.top_logprobs[:k]) or [(text, 0.0)]
            choice["logprobs"] = {"content": [{
                "token": tops[0][0], "logprob": tops[0][1], "bytes": None,
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in tops]}]}
        base = templated(prompt.system, prompt.text, len(prompt.images))
        cont = toy_tokens(prompt.reply_prefix or "")
        body: dict[str, Any] = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": prompt.model,
            "choices": [choice], "usage": {"prompt_tokens": len(base) + len(cont), "completion_tokens": n_out,
                                           "total_tokens": len(base) + len(cont) + n_out}}
        if prompt.prompt_logprobs is not None and self.prompt_logprobs == "return":
            body["prompt_logprobs"] = tokens.prompt_logprobs(base, cont)
        return body


@contextlib.contextmanager
def server_process(*args: str) -> Iterator[str]:
    """Run the server in its own process (so it does not share the client's GIL); yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "vbench.testing.api_server", *args], stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"fake API server did not start (got {line!r})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed (benchmarks run the server in its own process): prints the port."""
    p = argparse.ArgumentParser(description="loopback fake OpenAI/Anthropic/Gemini server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--jitter", type=float, default=0.0, help="extra latency up to this many seconds, per request")
    p.add_argument("--slow-rate", type=float, default=0.0, help="share of requests that are stragglers")
    p.add_argument("--slow", type=float, default=0.0, help="a straggler's extra latency, seconds")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--hang", type=float, default=3.0)
    p.add_argument("--retry-after", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    srv = FakeAPIServer(latency=Latency(a.latency, a.jitter, a.slow_rate, a.slow), port=a.port,
                        faults=Faults(rate=a.fault_rate, hang=a.hang, retry_after=a.retry_after, seed=a.seed)).start()
    print(srv.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
