"""The vLLM runner's asynchronous engine (``engine=async``) on a real engine: answers that do not depend on
how requests arrive (all at once, one by one, in batches, or through the blocking ``LLM.chat`` engine),
rejections kept per request, a conversation's next turn served from the prefix cache, and whole games that
are the same bytes whatever the batch size or engine."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.vllm_suite.conftest import ENGINE_ARGS, cli, model_args, rate
from vbench import evaluator
from vbench.runners.loop import shared_loop
from vbench.types import GenParams, ImagePart, Message, Request, Response

pytestmark = pytest.mark.slow


def _mixed(images: list[str]) -> list[Request]:
    """Greedy and seeded sampled generations with images, and `choose` with one- and multi-token options."""
    sampled = [Request(messages=(Message.user(ImagePart(image=h), "Describe this person."),),
                       gen=GenParams(max_tokens=8, temperature=0.9, top_p=0.95, seed=100 + i))
               for i, h in enumerate(images + images)]
    words = Request(kind="choose", messages=(Message.user(ImagePart(image=images[1]), "accept or reject?"),),
                    options=("accept", "reject", "make a counter offer"))
    return [rate(h) for h in images] + sampled + [rate(images[0], kind="choose"), words]


def _assert_same(a: list[Response], b: list[Response]) -> None:
    assert all(r.ok for r in a + b), [r.error for r in a + b if not r.ok]
    assert [r.text for r in a] == [r.text for r in b]
    for x, y in zip(a, b):
        if x.probs is not None:
            assert x.probs == pytest.approx(y.probs, abs=1e-4)


def test_answers_do_not_depend_on_arrival_or_engine(vllm_async_runner, vllm_sync_runner, vimages):
    reqs = _mixed(vimages)
    loop = shared_loop()

    async def all_at_once() -> list[Response]:
        return list(await asyncio.gather(*(vllm_async_runner.answer(r) for r in reqs)))

    together = loop.run(all_at_once())
    one_by_one = [loop.run(vllm_async_runner.answer(r)) for r in reqs]
    _assert_same(together, one_by_one)
    _assert_same(together, vllm_async_runner.run(reqs[::-1])[::-1])
    _assert_same(together, vllm_sync_runner.run(reqs))  # the blocking engine: the same answers
    sampled = [r.text for q, r in zip(reqs, together) if q.gen.temperature > 0]
    assert len(set(sampled)) > 1  # the seeds were used: not one text for every seed


def test_a_second_turn_is_served_from_the_prefix_cache(vllm_async_runner, vimages):
    history = (Message.system("You play the ultimatum game for a prefix-cache test. " + "Think before you offer. " * 20),
               Message.user(ImagePart(image=vimages[2]), "Offer a split of 100 coins."))
    stats = vllm_async_runner.prefix_cache

    def sent(req: Request) -> tuple[Response, int, int]:
        prompt, cached = stats.prompt_tokens, stats.cached_tokens
        [resp] = vllm_async_runner.run([req])
        assert resp.ok, resp.error
        return resp, stats.prompt_tokens - prompt, stats.cached_tokens - cached

    first, prompt1, cached1 = sent(Request(messages=history, gen=GenParams(max_tokens=8, seed=1)))
    assert prompt1 > 256 and cached1 == 0  # a new conversation: nothing to reuse
    turn2 = history + (Message.assistant(first.text), Message.user("They rejected it. Offer again."))
    _, prompt2, cached2 = sent(Request(messages=turn2, gen=GenParams(max_tokens=8, seed=2)))
    # the first turn's full KV blocks (128 tokens each on the CPU) are reused, the rest is computed
    assert prompt2 > prompt1 and prompt1 - 128 <= cached2 < prompt2


def test_a_rejected_prompt_fails_only_its_own_request(vllm_async_runner, vimages):
    too_long = Request(messages=(Message.user("yes " * 1500),), gen=GenParams(max_tokens=4))
    too_many = Request(messages=(Message.user(*(ImagePart(image=h) for h in vimages), "rate"),), gen=GenParams(max_tokens=4))
    out = vllm_async_runner.run([rate(vimages[0]), too_long, too_many, rate(vimages[1], kind="choose")])
    assert [r.ok for r in out] == [True, False, False, True]
    assert "maximum context length" in out[1].error and "image" in out[2].error


@pytest.fixture(scope="module")
def avatars2(tmp_path_factory) -> Path:
    from vbench.data.synthetic import build_synthetic_avatars

    return build_synthetic_avatars(tmp_path_factory.mktemp("data") / "avatars", n=2, seed=0)


GAMES = {"tasks": "ultimatum_pair", "limit": 2, "gen_kwargs": "max_tokens=8,temperature=0.8"}


def _in_process(runner, monkeypatch, data: Path, out: Path, batch_size: str) -> bytes:
    """ultimatum_pair through the evaluator on a session engine (handed in as a Runner: used on the run's
    image store, not closed); its samples.jsonl."""
    monkeypatch.setattr(runner, "store", runner.store)  # restored afterwards
    monkeypatch.setattr(runner, "_batch_size", batch_size)
    evaluator.evaluate(runner, dataset=str(data), output_path=out, cache_dir=out / "cache", show_progress=False,
                       **GAMES)
    [path] = list(out.rglob("samples.jsonl"))
    return path.read_bytes()


def test_pair_games_are_the_same_bytes_at_any_batch_size_or_engine(vllm_async_runner, vllm_sync_runner, vllm_model,
                                                                    avatars2, tmp_path, monkeypatch):
    """Sampled ultimatum_pair games write the same samples.jsonl through the CLI one request at a time (the
    default engine: on a CPU the blocking one, which starts in seconds), and on the asynchronous engine one
    request at a time and whole steps at once, and on the blocking engine whole steps at once."""
    out = cli("eval", "--model", "vllm", "--model_args", model_args(vllm_model), "--dataset", str(avatars2),
              "--batch_size", "1", "--output_path", str(tmp_path / "cli"),
              *(x for k, v in GAMES.items() for x in (f"--{k}", str(v))),
              cwd=tmp_path, env={"VBENCH_CACHE": str(tmp_path / "cli-cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    [path] = list((tmp_path / "cli").rglob("samples.jsonl"))
    expected = path.read_bytes()
    records = [json.loads(line) for line in expected.decode().splitlines() if line.strip()]
    assert records and all(r["status"] == "ok" and len(r["turns"]) >= 2 for r in records)
    for name, runner, batch_size in [("async-1", vllm_async_runner, "1"), ("async", vllm_async_runner, "auto"),
                                     ("sync", vllm_sync_runner, "auto")]:
        assert _in_process(runner, monkeypatch, avatars2, tmp_path / name, batch_size) == expected, name


def test_the_shared_loop_keeps_moving_while_the_async_engine_starts(vllm_model, vstore, vimages):
    """The engine is built on a worker thread: episodes on other runners (here a ticker) are not held up
    for the tens of seconds it takes to load."""
    from vbench.runners.vllm import VLLMArgs, VLLMRunner

    runner = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), engine="async", **ENGINE_ARGS), store=vstore)
    ticks: list[float] = []

    async def answer_while_ticking() -> Response:
        async def tick() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.05)

        ticker = asyncio.create_task(tick())
        try:
            return await runner.answer(rate(vimages[0]))
        finally:
            ticker.cancel()

    try:
        resp = shared_loop().run(answer_while_ticking())
        start = runner._async.start_seconds
    finally:
        runner.close()
    assert resp.ok, resp.error
    longest_gap = max(b - a for a, b in zip(ticks, ticks[1:]))
    assert start is not None and start > 4 * longest_gap and longest_gap < 2.0, (start, longest_gap)
