"""Fixtures for runner tests: an image store with a few images, loopback fake API servers."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from PIL import Image

from vbench.images import ImageStore
from vbench.types import ImagePart, Message, Request

NEEDS_AIOHTTP = "the loopback API server needs aiohttp (pip install 'vbench-personas[api]')"

RATE = "Rate how aggressive the character looks from 1 to 7. Please answer with numbers only."


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.fixture
def images(store: ImageStore) -> list[str]:
    """Three distinct PNG images in the store (digests)."""
    return [store.put_image(Image.new("RGB", (16, 16), (40 * i, 200 - 30 * i, 90))) for i in range(3)]


def rating_request(digest: str, kind: str = "generate", seed: int | None = None) -> Request:
    msgs = (Message.system(RATE), Message.user(ImagePart(image=digest)))
    opts = tuple("1234567") if kind == "choose" else ()
    req = Request(kind=kind, messages=msgs, options=opts)
    return req.with_seed(seed) if seed is not None else req


@pytest.fixture
def server():
    """``with server(**kwargs) as srv`` starts a FakeAPIServer; all are stopped at teardown."""
    pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
    from vbench.testing.api_server import FakeAPIServer

    stack = contextlib.ExitStack()

    def start(**kwargs) -> FakeAPIServer:
        return stack.enter_context(FakeAPIServer(**kwargs))

    with stack:
        yield start


FAST = {"retry_initial": 0.01, "retry_max": 0.05, "timeout": 2.0}


def answered(srv) -> list:
    """Server events apart from the one probe that finds a server without prompt log-probs (a 400)."""
    return [e for e in srv.events if e.outcome != "400-prompt_logprobs"]


def probes(srv) -> int:
    return sum(e.outcome == "400-prompt_logprobs" for e in srv.events)
