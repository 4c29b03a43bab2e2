"""What every hosted-API runner shares: bounded async concurrency, retries, secrets, error accounting.

Requests are answered on the process-wide event loop (``vbench.runners.loop``, a daemon thread, so
``run`` also works inside Jupyter's loop): the episode engine awaits ``answer`` for each request as its
episode asks, ``run`` answers a list at once; either way at most ``max_concurrency`` HTTP calls are in
flight per runner (a request that needs several calls, e.g. scoring each option's continuation, shares
the same bound). Each HTTP call is retried
with exponential backoff + jitter (tenacity) on connection errors, timeouts, 408/409/429 and 5xx,
waiting at least the server's ``Retry-After``. A request still failing after its retries becomes
``Response.error`` (an infra error, never cached); a failure of the whole backend (bad key, unknown
model) raises one clear line instead. The API key is read from the environment variable named by
``api_key_env`` and scrubbed from every message.
"""
from __future__ import annotations

import asyncio
import email.utils
import importlib.util
import logging
import os
import time
from collections import OrderedDict
from abc import abstractmethod
from typing import Any, Awaitable, Callable, ClassVar, Literal, TypeVar

import tenacity
from pydantic import Field

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.loop import shared_loop
from vbench.types import Request, Response

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_CONCURRENCY = 32
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
FATAL_STATUSES = {401: "authentication failed", 403: "permission denied", 404: "not found"}
# args that change how a request is sent, never what the model answers: kept out of the fingerprint
TRANSPORT_FIELDS = frozenset({"api_key_env", "max_concurrency", "max_retries", "timeout", "retry_initial",
                              "retry_max", "max_retry_after", "http_client"})


class ApiArgs(RunnerArgs):
    model: str = Field(description="model name as the API knows it")
    base_url: str | None = Field(None, description="server URL; None = the provider's hosted API")
    api_key_env: str = Field("", description="environment variable holding the API key (default per provider)")
    max_concurrency: int | None = Field(None, ge=1, le=4096, description="requests in flight (else --max_concurrency)")
    max_retries: int = Field(6, ge=0, le=50)
    timeout: float = Field(120.0, gt=0, description="seconds per HTTP call")
    retry_initial: float = Field(0.5, ge=0, description="first backoff wait, seconds (doubles, + jitter)")
    retry_max: float = Field(30.0, ge=0, description="longest backoff wait, seconds")
    max_retry_after: float = Field(120.0, ge=0, description="longest server Retry-After honoured, seconds")
    http_client: Literal["auto", "aiohttp", "httpx"] = Field(
        "auto", description="HTTP transport of the SDK; auto = aiohttp when installed (cheaper per request)")


ApiArgsT = TypeVar("ApiArgsT", bound=ApiArgs)


class FatalBackendError(UsageError):
    """The backend as a whole cannot answer (bad key, unknown model or URL): stop with one line."""


class NotSent(Exception):
    """A call skipped because the backend as a whole already failed in this chunk."""


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WaitRetryAfter(tenacity.wait.wait_base):
    """Backoff that waits at least what the server's Retry-After asked for (up to ``cap`` seconds)."""

    def __init__(self, backoff: tenacity.wait.wait_base, cap: float):
        self.backoff = backoff
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.backoff(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = retry_after_seconds(exc) if exc is not None else None
        return max(wait, min(asked, self.cap)) if asked is not None else wait


class ApiRunner(Runner[ApiArgsT]):
    """Base for OpenAI/Anthropic/Gemini runners: subclasses build a client and answer one request.

    Generic over its args like every runner: ``class MyRunner(ApiRunner[MyArgs])`` types ``self.args``
    and fills ``Args``.
    """

    Args: ClassVar[type[ApiArgs]] = ApiArgs
    default_key_env: ClassVar[str] = ""
    provider: ClassVar[str] = ""
    @property
    def native_async(self) -> bool:
        return True  # the engine awaits ``answer`` on the shared loop

    def __init__(self, args: ApiArgsT, store: ImageStore | None = None, batch_size: int | str = "auto",
                 max_concurrency: int | None = None):
        super().__init__(args, store, batch_size)
        self.concurrency = args.max_concurrency or max_concurrency or DEFAULT_CONCURRENCY
        self.key_env = args.api_key_env or self.default_key_env
        key = os.environ.get(self.key_env, "")
        if not key and args.base_url is None:
            raise UsageError(f"{self.backend}: set the environment variable {self.key_env} to your {self.provider} "
                             f"API key (or name another variable with --model_args api_key_env=NAME)")
        self._secret = key
        self._data_urls: OrderedDict[str, str] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the client and slots were made on
        self._client: Any = None
        self._slots: asyncio.Semaphore | None = None  # HTTP calls in flight (made on the shared loop)
        self._fatal: list[BaseException] = []
        self.retries = 0  # HTTP calls repeated after a transient failure
        self.failures = 0  # requests that failed after all retries

    # -- what subclasses provide ----------------------------------------------------------------
    @abstractmethod
    def _make_client(self, api_key: str) -> Any:
        """The SDK's async client, with its own retries off (ours honour Retry-After uniformly)."""

    @abstractmethod
    async def _answer(self, client: Any, req: Request) -> Response:
        """Answer one request; wrap each HTTP call in ``self.call``."""

    @abstractmethod
    def _status(self, exc: BaseException) -> int | None:
        """HTTP status of an SDK error (None for connection errors and everything else)."""

    @abstractmethod
    def _is_transient(self, exc: BaseException) -> bool:
        """A connection error or timeout: worth retrying."""

    # -- shared machinery -----------------------------------------------------------------------
    def fingerprint_fields(self) -> dict[str, Any]:
        return {"backend": self.backend,
                **{k: v for k, v in self.args.model_dump(mode="json").items() if k not in TRANSPORT_FIELDS}}

    def use_aiohttp(self) -> bool:
        """Whether to give the SDK its aiohttp transport (the SDKs' advice for high concurrency)."""
        found = importlib.util.find_spec("aiohttp") is not None
        if self.args.http_client == "aiohttp" and not found:
            raise UsageError(f"{self.backend}: http_client=aiohttp needs aiohttp: pip install 'vbench-personas[api]'")
        return self.args.http_client == "aiohttp" or (self.args.http_client == "auto" and found)

    def auto_batch_size(self) -> int:
        return max(256, self.concurrency * 16)

    def data_url(self, digest: str) -> str:
        """Base64 data URL of a stored image (a small LRU: the same image recurs across requests)."""
        url = self._data_urls.get(digest)
        if url is not None:
            self._data_urls.move_to_end(digest)
        else:
            url = self._data_urls[digest] = self.store.data_url(digest)
            if len(self._data_urls) > 256:
                self._data_urls.popitem(last=False)
        return url

    def image_b64(self, digest: str) -> tuple[str, str]:
        """(mime type, base64 payload) of a stored image."""
        head, _, payload = self.data_url(digest).partition(",")
        return head.removeprefix("data:").removesuffix(";base64"), payload

    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def describe(self, exc: BaseException) -> str:
        status = self._status(exc)
        msg = " ".join(str(exc).split())[:300]
        return self.scrub(f"{type(exc).__name__}" + (f" ({status})" if status else "") + (f": {msg}" if msg else ""))

    def _retryable(self, exc: BaseException) -> bool:
        status = self._status(exc)
        return (status in RETRY_STATUSES) if status is not None else self._is_transient(exc)

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.debug("%s: retry %d after %s", self.backend, state.attempt_number,
                  self.describe(exc) if exc else "?")

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One HTTP call with retries (each attempt holds one of ``concurrency`` slots; backoff waits
        hold none); raises the last error when they run out."""
        a = self.args
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(a.max_retries + 1),
            wait=WaitRetryAfter(tenacity.wait_exponential_jitter(initial=a.retry_initial, max=a.retry_max,
                                                                 jitter=a.retry_initial), a.max_retry_after),
            retry=tenacity.retry_if_exception(self._retryable),
            before_sleep=self._count_retry,
            reraise=True,
        )

        slots = self._slots
        assert slots is not None, "call() runs inside _run_all"

        async def attempt() -> T:  # a coroutine function, so tenacity awaits each try
            async with slots:
                if self._fatal:
                    raise NotSent()
                return await fn()

        return await retrying(attempt)

    def _ready(self) -> Any:
        """The SDK client and the concurrency slots, made on (and for) the running loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._make_client(self._secret or "EMPTY")
            self._slots = asyncio.Semaphore(self.concurrency)
            self._loop = loop
        return self._client

    async def _one(self, req: Request, fatal: list[BaseException]) -> Response:
        """One request's answer; a per-request failure after retries is an infra error (``Response.error``)."""
        client = self._ready()
        self.calls += 1
        try:
            return await self._answer(client, req)
        except NotSent:
            return Response.failure("not sent: the backend failed")
        except Exception as exc:
            if self._status(exc) in FATAL_STATUSES:
                fatal.append(exc)
            self.failures += 1
            return Response.failure(f"{self.backend}: {self.describe(exc)}")

    def _fatal_error(self, exc: BaseException) -> FatalBackendError:
        where = self.args.base_url or f"the {self.provider} API"
        status = self._status(exc)
        assert status is not None  # only exceptions with a FATAL_STATUSES status are kept as fatal
        return FatalBackendError(
            f"{self.backend}: {FATAL_STATUSES[status]} for model {self.args.model!r} at {where} "
            f"({self.describe(exc)}); check the model name, base_url and the key in ${self.key_env}")

    async def answer(self, request: Request) -> Response:
        """One request as its episode asks for it (raises FatalBackendError when the backend as a whole
        refuses: bad key, unknown model; the engine then stops the run)."""
        if self._fatal:
            raise self._fatal_error(self._fatal[0])
        resp = await self._one(request, self._fatal)
        if self._fatal:
            raise self._fatal_error(self._fatal[0])
        return resp

    async def _run_all(self, requests: list[Request]) -> list[Response]:
        self._ready()
        fatal: list[BaseException] = []
        self._fatal = fatal
        out = await asyncio.gather(*(self._one(r, fatal) for r in requests))
        if fatal:
            raise self._fatal_error(fatal[0])
        return list(out)

    def run(self, requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        return shared_loop().run(self._run_all(requests))

    def close(self) -> None:
        client, self._client = self._client, None
        loop, self._loop = self._loop, None
        self._slots = None
        closer = getattr(client, "close", None) or getattr(client, "aclose", None)
        if closer is None or loop is None or loop.is_closed():
            return
        shared = shared_loop()
        if shared.loop is not loop:  # the loop it was made on is gone: nothing left to close on
            return
        try:
            result = closer()
            if asyncio.iscoroutine(result):
                shared.run(result)
        except Exception as exc:  # closing must not mask the run's outcome
            log.debug("%s: closing the client failed: %s", self.backend, self.scrub(str(exc)))
