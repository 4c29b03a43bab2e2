"""One process-wide asyncio loop on a daemon thread, shared by the episode engine and async runners.

Every coroutine that talks to a backend (an API SDK call, vLLM's ``AsyncLLM``) runs on this one loop, so
the engine can await answers from several runners at once and an SDK client or engine created on the loop
is always used from it. ``run`` blocks the calling thread until a coroutine finishes, which keeps
``Scheduler.run`` and ``Runner.run`` synchronous for their callers (and usable inside Jupyter's own loop).
"""
from __future__ import annotations

import asyncio
import threading
from typing import Awaitable, TypeVar

T = TypeVar("T")


class LoopThread:
    """A private asyncio loop on a daemon thread; ``run`` blocks the caller until a coroutine finishes."""

    def __init__(self, name: str = "vbench-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        if self.in_loop():
            raise RuntimeError("LoopThread.run called from its own loop (await the coroutine instead)")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return fut.result()
        except BaseException:  # Ctrl-C in the caller: stop the work still in flight
            fut.cancel()
            raise

    def in_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


_shared: LoopThread | None = None
_lock = threading.Lock()


def shared_loop() -> LoopThread:
    """The process-wide loop (started on first use; a daemon thread, so it never keeps a process alive)."""
    global _shared
    with _lock:
        if _shared is None or _shared.loop.is_closed() or not _shared.thread.is_alive():
            _shared = LoopThread()
        return _shared
