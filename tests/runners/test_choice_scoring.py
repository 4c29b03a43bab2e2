"""Exact `choose` scoring on OpenAI-compatible servers, fed a token stream that splits "10" into "1", "0".

The loopback server's toy tokenizer splits numbers into digits, so first-token scoring would credit
P("10") to option "1". With prompt log-probs (like `vllm serve`) every option's continuation is scored;
without them, options 1..10 are answered by a constrained prompt; never is "10" credited to "1".
"""
from __future__ import annotations

import math

import pytest

from tests.runners.conftest import FAST, NEEDS_AIOHTTP, answered, probes
from vbench.runners.choice import exclusive_logprobs, pool_option_probs, prefix_free
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner
from vbench.types import GenParams, ImagePart, Message, Request

pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
from vbench.testing.api_server import Answer, rating_brain, rating_of  # noqa: E402

SCALE = tuple(str(i) for i in range(1, 11))
# 90% on "10", 9% on "9", 0.1% on each of 1..8 and 0.2% on an answer that is no option
DIST = {"10": 0.9, "9": 0.09, **{str(i): 0.001 for i in range(1, 9)}}
OTHER = {"I like it": 0.002}


def scale_brain(prompt) -> Answer:
    return Answer(text="10", answers={**DIST, **OTHER})


def _runner(srv, store, concurrency=8, **kw) -> OpenAIRunner:
    return OpenAIRunner(OpenAIArgs(model="m", base_url=srv.openai_url, **{**FAST, **kw}), store=store,
                        max_concurrency=concurrency)


def _scale_request(digest: str, i: int = 0) -> Request:
    msgs = (Message.system("How much do you like it, 1 to 10?"), Message.user(ImagePart(image=digest), f"item {i}"))
    return Request(kind="choose", messages=msgs, options=SCALE, gen=GenParams(seed=i))


def _expected_value(probs: dict[str, float]) -> float:
    return sum(int(o) * p for o, p in probs.items())


def test_split_digits_are_scored_by_full_continuation(server, store, images):
    srv = server(brain=scale_brain, prompt_logprobs="return")
    runner = _runner(srv, store, top_logprobs=3)  # a top-3 holds at most three of the ten options
    out = runner.run([_scale_request(h, i) for i, h in enumerate(images)])
    runner.close()
    total = sum(DIST.values())
    for resp in out:
        assert resp.ok and resp.method == "logprobs"
        assert resp.probs == pytest.approx({o: p / total for o, p in DIST.items()}, rel=1e-6)
        assert _expected_value(resp.probs) == pytest.approx(sum(int(o) * p for o, p in DIST.items()) / total)
        assert _expected_value(resp.probs) > 9.8  # ~9.9, not 1.8: P("10") is not credited to "1"
        assert all(p > 0 for p in resp.probs.values())  # every option scored, not only a top-k
        assert resp.option_mass == pytest.approx(total, rel=1e-6)
    assert runner.choice_scoring == "full-continuation-logprobs"
    conts = [e.prompt for e in srv.events if e.prompt.reply_prefix is not None]
    assert {p.reply_prefix for p in conts} == {v for o in SCALE for v in (o, " " + o)}
    assert all(p.prompt_logprobs == 0 for p in conts)


def test_first_token_scoring_would_credit_ten_to_one():
    """What the scoring above corrects: on this token stream the first token "1" carries P("10")."""
    from vbench.testing.toy_tokens import AnswerTokens

    tops = AnswerTokens({**DIST, **OTHER}).first_tokens(3)
    assert tops[0][0] == "1" and math.exp(tops[0][1]) == pytest.approx(0.901)
    naive, _ = pool_option_probs(tops, SCALE)  # the former first-token scoring
    assert naive["1"] > 0.9 and _expected_value(naive) < 2.0
    assert sum(p == 0 for p in naive.values()) >= 7  # options outside the top-3 got nothing


@pytest.mark.parametrize("mode", ["reject", "ignore"])
def test_without_prompt_logprobs_prefix_options_are_constrained(server, store, images, mode):
    srv = server(brain=scale_brain, prompt_logprobs=mode)
    runner = _runner(srv, store)
    out = runner.run([_scale_request(h, i) for i, h in enumerate(images)])
    runner.close()
    for resp in out:  # first tokens cannot tell "1" from "10": a parsed answer instead, one-hot on "10"
        assert resp.ok and resp.method == "parsed" and resp.probs["10"] == 1.0
    asked = [e.prompt for e in answered(srv) if e.prompt.reply_prefix is None and e.prompt.max_tokens != 1]
    assert len(asked) == len(images) and all("Answer with exactly one of: 1, 2," in p.text for p in asked)
    assert not any(e.prompt.logprobs for e in srv.events)  # first-token log-probs are never read for 1..10
    assert runner.choice_scoring == "constrained-sample"
    assert len([e for e in srv.events if e.prompt.reply_prefix is not None]) == 1  # probed once


def test_prefix_free_options_use_first_tokens_where_continuations_are_refused(server, store, images):
    srv = server()  # like OpenAI: generated-token log-probs only
    runner = _runner(srv, store)
    reqs = [Request(kind="choose", messages=(Message.user(ImagePart(image=h), "Rate 1-7"),), options=tuple("1234567"))
            for h in images]
    out = runner.run(reqs)
    runner.close()
    assert probes(srv) == 1 and all(r.method == "logprobs" for r in out)
    assert runner.choice_scoring == "first-token-logprobs"


def test_continuation_scoring_matches_the_answer_distribution_on_single_tokens(server, store, images):
    srv = server(prompt_logprobs="return")
    runner = _runner(srv, store)
    reqs = [Request(kind="choose", messages=(Message.user(ImagePart(image=h), "Rate 1-7"),), options=tuple("1234567"))
            for h in images]
    out = runner.run(reqs)
    runner.close()
    for h, resp in zip(images, out):
        sent = next(e.prompt for e in srv.events if e.prompt.images == [store.get_bytes(h)])
        expected, _ = pool_option_probs(rating_brain(sent).top_logprobs, tuple("1234567"))
        assert resp.probs == pytest.approx(expected, abs=1e-6)
        assert max(resp.probs, key=resp.probs.get) == str(rating_of(sent))


def test_sub_calls_share_the_concurrency_bound(server, store, images):
    srv = server(brain=scale_brain, prompt_logprobs="return", latency=0.02)
    runner = _runner(srv, store, concurrency=4)
    out = runner.run([_scale_request(images[i % 3], i) for i in range(6)])
    runner.close()
    assert all(r.ok for r in out)
    assert 1 < srv.max_inflight <= 4


def test_explicit_continuation_on_a_server_without_it_is_an_infra_error(server, store, images):
    srv = server(brain=scale_brain)
    runner = _runner(srv, store, choice_method="continuation")
    [resp] = runner.run([_scale_request(images[0])])
    runner.close()
    assert not resp.ok and "cannot score continuations" in resp.error


def test_exclusive_logprobs_takes_longer_continuations_off_and_drops_duplicate_tokens():
    ids = {"1": (5,), " 1": (5,), "10": (5, 6), "2": (8,)}  # a template that trims " 1" to "1"
    lps = {"1": math.log(0.5), " 1": math.log(0.5), "10": math.log(0.3), "2": math.log(0.1)}
    out = exclusive_logprobs(ids, lps)
    assert set(out) == {"1", "10", "2"}  # " 1" has the same tokens as "1": counted once
    assert math.exp(out["1"]) == pytest.approx(0.2) and out["10"] == lps["10"] and out["2"] == lps["2"]


def test_prefix_free():
    assert prefix_free(("yes", "no")) and prefix_free(tuple("1234567"))
    assert not prefix_free(SCALE) and not prefix_free(("Yes", "yes please"))
