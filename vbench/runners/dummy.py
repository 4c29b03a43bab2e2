"""A model-free backend: deterministic pseudo-random answers seeded by the request.

Useful to check a task's pipeline, metrics and outputs without weights (like lm-eval's ``dummy``).
"""
from __future__ import annotations

import hashlib
import random

from vbench.runners.base import Runner, RunnerArgs
from vbench.types import Request, Response


class DummyArgs(RunnerArgs):
    vocab: str = "yes no 1 2 3 4 5 6 7 I propose $60 for me and $40 for you accept reject"
    reply: str | None = None  # fixed text for every generate request


class DummyRunner(Runner[DummyArgs]):
    backend = "dummy"
    Args = DummyArgs

    def _rng(self, req: Request) -> random.Random:
        digest = hashlib.sha256(req.cache_key("dummy").encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def run(self, requests: list[Request]) -> list[Response]:
        self.calls += len(requests)
        out = []
        for req in requests:
            rng = self._rng(req)
            if req.kind == "choose":
                weights = [rng.random() + 1e-3 for _ in req.options]
                total = sum(weights)
                out.append(Response(probs={o: w / total for o, w in zip(req.options, weights)},
                                    method="logprobs", option_mass=1.0))
            else:
                if self.args.reply is not None:
                    text = self.args.reply
                else:
                    words = self.args.vocab.split()
                    text = " ".join(rng.choice(words) for _ in range(min(req.gen.max_tokens, rng.randint(1, 12))))
                out.append(Response(text=text, method="generate"))
        return out
