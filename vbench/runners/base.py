"""The runner protocol: a backend turns a batch of Requests into Responses, in order.

Runners are built cheaply (argument validation only) and load weights on the first ``run`` call, so a
fully cached re-run never loads the model. Per-request failures come back as ``Response.error``; only
a failure of the whole backend (model cannot load) raises.
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from vbench.generic_params import bind_schema
from vbench.images import ImageStore, default_store
from vbench.types import Request, Response


def model_name_of(args: Any, backend: str) -> str:
    """A runner's model id from its arguments (also what ``vbench sweep`` names folders by, before any
    runner is built)."""
    return str(getattr(args, "pretrained", None) or getattr(args, "model", None) or backend)


class RunnerArgs(BaseModel):
    """Base for each backend's ``--model_args`` schema (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


ArgsT = TypeVar("ArgsT", bound=RunnerArgs)


class Runner(ABC, Generic[ArgsT]):
    """Generic over its args: ``class MyRunner(Runner[MyArgs])`` types ``self.args`` as ``MyArgs``.

    ``Args`` (the run-time schema for ``--model_args``) is filled from that parameter when the class
    declares none, and must agree with it when it does.
    """

    backend: ClassVar[str]
    Args: ClassVar[type[RunnerArgs]] = RunnerArgs

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bind_schema(cls, Runner, "Args")

    def __init__(self, args: ArgsT, store: ImageStore | None = None, batch_size: int | str = "auto"):
        self.args: ArgsT = args
        self.store = store or default_store()
        self._batch_size = batch_size
        self.calls = 0  # requests actually sent to the backend (cache misses)

    @property
    def model_name(self) -> str:
        """Human-readable model id (for results and the leaderboard)."""
        return model_name_of(self.args, self.backend)

    def fingerprint_fields(self) -> dict[str, Any]:
        """Everything about the model that changes its answers (never secrets, never batch size)."""
        return {"backend": self.backend, **self.args.model_dump(mode="json")}

    @property
    def fingerprint(self) -> str:
        payload = json.dumps(self.fingerprint_fields(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def batch_size(self) -> int:
        if self._batch_size in ("auto", None, 0):
            return self.auto_batch_size()
        return int(self._batch_size)

    def auto_batch_size(self) -> int:
        return 16

    @property
    def native_async(self) -> bool:
        """Whether this runner answers through ``answer`` (an API SDK, vLLM's AsyncLLM): the episode engine
        then awaits it on the shared loop (``vbench.runners.loop``), one request at a time, as many in
        flight as the runner allows. Every other runner is served in micro-batches through ``run`` on a
        worker thread."""
        return False

    @abstractmethod
    def run(self, requests: list[Request]) -> list[Response]:
        """Answer every request (same order). Raise only if the backend as a whole cannot work."""

    async def answer(self, request: Request) -> Response:
        """Answer one request on the shared loop (only where ``native_async``); same contract as ``run``."""
        raise NotImplementedError(f"{self.backend} runner has no asynchronous path")

    def close(self) -> None:
        """Release resources (weights, clients, event loops)."""
