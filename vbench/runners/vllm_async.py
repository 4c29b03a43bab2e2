"""vLLM's asynchronous engine (``AsyncLLM``) on vbench's shared loop: one conversation in, one output back.

Every request is its own engine request, submitted as soon as it is asked for; vLLM batches whatever is in
flight continuously and reuses the KV blocks of prompt prefixes it has already computed (a game's next
turn repeats its history). Conversations are rendered the way ``LLM.chat`` renders them (same chat
template parameters, no special tokens added on top of the template), so both engines see the same tokens.

The engine core always runs in its own process (``VLLM_ENABLE_V1_MULTIPROCESSING`` only applies to
``vllm.LLM``). It is built on a worker thread (loading weights and starting the core takes seconds to
minutes, and other runners' episodes keep moving on the shared loop meanwhile) and used on the shared
loop (``vbench.runners.loop``), where all its coroutines run: vLLM binds its output task and sockets to
the loop that first uses them.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from vbench.runners import vllm_engine as ve
from vbench.runners.loop import shared_loop

log = logging.getLogger(__name__)
BUILD_WAIT_S = 300.0  # at shutdown, how long to wait for an engine still loading before giving up on it


class AsyncEngine:
    """One ``AsyncLLM`` for one runner; started on first use, on the shared loop."""

    def __init__(self, engine_kwargs: dict[str, Any], model: str):
        self._kwargs = {"disable_log_stats": True, **engine_kwargs}  # as vllm.LLM does: no periodic stat logs
        self._model = model
        self._llm: Any = None
        self._failed: BaseException | None = None
        self._ids = itertools.count()
        self._starting: asyncio.Future[Any] | None = None  # the build in flight (on the loop)
        self.start_seconds: float | None = None

    @property
    def started(self) -> bool:
        return self._llm is not None

    def _build(self) -> Any:
        """Construct the engine (on a worker thread: nothing here needs the loop)."""
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        t0 = time.perf_counter()
        try:
            llm = AsyncLLM.from_engine_args(AsyncEngineArgs(**self._kwargs))
        except Exception as exc:  # noqa: BLE001 - every start failure becomes one line
            raise ve.start_error(exc, self._model) from None
        self.start_seconds = time.perf_counter() - t0
        return llm

    async def start(self) -> Any:
        """The engine, built on first use off the loop; concurrent callers wait for the same build.

        A failed start is remembered: requests already waiting fail with the same error at once. A build
        whose every waiter was cancelled (Ctrl-C) still finishes on its thread and is shut down then."""
        if self._failed is not None:
            raise self._failed
        if self._llm is not None:
            return self._llm
        if self._starting is None:
            self._starting = asyncio.get_running_loop().run_in_executor(None, self._build)
            self._starting.add_done_callback(self._built)
        await asyncio.shield(self._starting)
        if self._failed is not None:
            raise self._failed
        return self._llm

    def _built(self, fut: asyncio.Future[Any]) -> None:
        self._starting = None  # the future holds the engine: keep one reference only, dropped at shutdown
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self._failed = exc
        else:
            self._llm = fut.result()

    def started_llm(self) -> Any:
        """The engine from outside the loop, built now if it was not yet."""
        if self._llm is None:
            shared_loop().run(self.start())
        return self._llm

    def get_tokenizer(self) -> Any:
        return self.started_llm().get_tokenizer()

    async def _render(self, conv: list[dict], scoring: bool) -> Any:
        """The conversation as ``LLM.chat`` renders it (vllm.entrypoints.common.offline._preprocess_chat)."""
        from vllm.renderers import ChatParams
        from vllm.utils.mistral import is_mistral_tokenizer

        llm = self._llm
        renderer = llm.renderer
        template_kwargs = {"add_generation_prompt": not scoring, "continue_final_message": scoring,
                           "tokenize": is_mistral_tokenizer(renderer.tokenizer) or llm.model_config.enable_prompt_embeds}
        chat_params = ChatParams(chat_template_kwargs=template_kwargs)
        tok_params = renderer.default_chat_tok_params.with_kwargs(add_special_tokens=False)
        _, [engine_input] = await renderer.render_chat_async([conv], chat_params, tok_params)
        return engine_input

    async def chat(self, conv: list[dict], params: Any, scoring: bool) -> Any:
        """The final ``RequestOutput`` of one conversation, or the exception that rejected it (too long, too
        many images). Any other failure is the engine's: it raises a one-line VbenchError."""
        from vllm.sampling_params import RequestOutputKind

        llm = await self.start()
        params = params.clone()
        params.output_kind = RequestOutputKind.FINAL_ONLY
        final = None
        try:
            engine_input = await self._render(conv, scoring)
            async for out in llm.generate(engine_input, params, request_id=f"vbench-{next(self._ids)}"):
                final = out
        except ve.request_errors() as exc:
            return exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine itself failed: the run stops
            raise ve.engine_error(exc, self._model) from None
        if final is None:
            raise ve.engine_error(RuntimeError("the engine returned no output"), self._model)
        return final

    def shutdown(self, timeout: float) -> None:
        """Stop the engine core process and the loop's output task (no processes or shared memory left).
        A build still in flight (interrupted while the engine loaded) is waited for, then stopped too."""
        building = self._starting
        if building is not None and not building.done():
            async def finished() -> None:
                await asyncio.wait([building], timeout=BUILD_WAIT_S)

            try:
                shared_loop().run(finished())
            except Exception as exc:  # noqa: BLE001 - the loop is gone: nothing more can be stopped
                log.warning("vllm engine shutdown while starting: %s", ve.first_line(exc))
            if not building.done():
                log.warning("vllm engine still starting after %.0f s at shutdown; its processes may remain",
                            BUILD_WAIT_S)
        llm, self._llm = self._llm, None
        if llm is None:
            return

        async def stop() -> None:  # on the loop, where the engine's sockets and tasks live
            llm.shutdown(timeout=timeout)

        try:
            shared_loop().run(stop())
        except Exception as exc:  # noqa: BLE001 - closing must not mask the run's own outcome
            log.warning("vllm engine shutdown: %s", ve.first_line(exc))
