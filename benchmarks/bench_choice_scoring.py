"""`choose` on a 1..10 scale over a token stream that splits "10" into "1", "0" (openai runner, loopback).

Every request has its own answer distribution over 1..10 (most mass on one value, drawn at random; one in
three peaks on "10"). Printed side by side: the former first-token top-k pooling, full-continuation
scoring against a server with prompt log-probs (like `vllm serve`), and the constrained answer a server
without them gets. Columns: mean |E[value] - true E[value]| and mean signed error (bias; both in scale
points, with a 95% normal interval over requests; a constrained answer is one sample, so its error is
noise around 0), share of requests whose
likeliest option is the true one, HTTP calls per request, wall seconds. n = requests.

Run: python benchmarks/bench_choice_scoring.py [--n 300] [--top_logprobs 20]
"""
from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from math import sqrt
from statistics import mean, stdev
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vbench.images import ImageStore  # noqa: E402
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner  # noqa: E402
from vbench.testing.api_server import Answer, FakeAPIServer, Prompt  # noqa: E402
from vbench.types import GenParams, Message, Request, Response  # noqa: E402

SCALE = tuple(str(i) for i in range(1, 11))


def distribution(text: str) -> dict[str, float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    peak = "10" if rng.random() < 1 / 3 else rng.choice(SCALE[:-1])
    weights = {o: rng.random() * 0.1 for o in SCALE}
    weights[peak] += 0.6 + 0.3 * rng.random()
    total = sum(weights.values())
    return {o: w / total for o, w in weights.items()}


def brain(prompt: Prompt) -> Answer:
    dist = distribution(prompt.texts[0].split("\n")[0])  # the question, without the constrained instruction
    sample = random.Random(prompt.seed).choices(list(dist), weights=list(dist.values()))[0]
    return Answer(text=sample, answers=dist)


class FirstTokenRunner(OpenAIRunner):
    """The former scoring: first-token top-k pooled onto options, whatever the options."""

    async def _choose(self, client, req: Request) -> Response:
        return await self._choose_logprobs(client, req) or await self._choose_parsed(client, req)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--top_logprobs", type=int, default=20)
    a = ap.parse_args()
    store = ImageStore(Path(tempfile.mkdtemp(prefix="vbench-bench-")) / "images")
    reqs = [Request(kind="choose", options=SCALE, gen=GenParams(seed=i),
                    messages=(Message.system("How much do you like it, from 1 to 10?"), Message.user(f"item {i}")))
            for i in range(a.n)]
    truth = [distribution(f"item {i}") for i in range(a.n)]
    setups = [("former first-token top-k", FirstTokenRunner, "return", "logprobs"),
              ("full continuation (prompt log-probs)", OpenAIRunner, "return", "auto"),
              ("constrained answer (no prompt log-probs)", OpenAIRunner, "reject", "auto")]
    print(f"n = {a.n} requests, options 1..10, digits split into single tokens, top_logprobs {a.top_logprobs}")
    print(f"{'method':42s} {'|dEV|':>7s} {'bias ± 95% CI':>14s} {'argmax ok':>9s} {'calls/req':>9s} {'wall s':>7s}  choice_scoring")
    for name, cls, plp, method in setups:
        with FakeAPIServer(brain=brain, prompt_logprobs=plp) as srv:
            runner = cls(OpenAIArgs(model="m", base_url=srv.openai_url, top_logprobs=a.top_logprobs,
                                    choice_method=method), store=store, max_concurrency=32)
            t = time.perf_counter()
            out = runner.run(reqs)
            wall = time.perf_counter() - t
            runner.close()
            calls = len(srv.events)
        errs, hits = [], 0
        for resp, dist in zip(out, truth):
            probs = resp.probs or {o: 1 / len(SCALE) for o in SCALE}
            d = sum(int(o) * p for o, p in probs.items()) - sum(int(o) * p for o, p in dist.items())
            errs.append(d)
            hits += max(probs, key=probs.get) == max(dist, key=dist.get)
        scoring = getattr(runner, "choice_scoring", None) if cls is OpenAIRunner else "(former)"
        print(f"{name:42s} {mean(map(abs, errs)):7.3f} {mean(errs):+7.3f} ±{1.96 * stdev(errs) / sqrt(a.n):5.3f} {hits / a.n:9.1%} {calls / a.n:9.1f} {wall:7.2f}  {scoring}")


if __name__ == "__main__":
    main()
