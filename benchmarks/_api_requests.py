"""Shared set-up for the API benchmarks: synthetic image requests and a runner on a loopback server."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

from vbench.data.synthetic import FACTORS, draw_persona
from vbench.images import ImageStore
from vbench.types import GenParams, ImagePart, Message, Request

SYSTEM = ("Based on the picture of the fictional character, evaluate their appearance. Rate how aggressive the "
          "character looks from 1 to 7, with 7 being the most aggressive. Please answer with numbers only.")


def image_requests(n: int, n_images: int = 50, seed: int = 0, kind: str = "generate") -> tuple[ImageStore, list[Request]]:
    """``n`` rating requests over ``n_images`` synthetic persona images (distinct seeds, so none repeat)."""
    rng = random.Random(seed)
    store = ImageStore(Path(tempfile.mkdtemp(prefix="vbench-bench-")) / "images")
    digests = [store.put_image(draw_persona({f: rng.randint(0, 1) for f in FACTORS}, rng)) for _ in range(n_images)]
    reqs = []
    for i in range(n):
        msgs = (Message.system(SYSTEM), Message.user(ImagePart(image=digests[i % n_images])))
        opts = tuple("1234567") if kind == "choose" else ()
        reqs.append(Request(kind=kind, messages=msgs, options=opts, gen=GenParams(max_tokens=2, seed=i)))
    return store, reqs
