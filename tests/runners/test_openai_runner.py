"""The OpenAI-compatible runner against a loopback server speaking chat-completions, via the real SDK."""
from __future__ import annotations

import pytest

from tests.runners.conftest import FAST, NEEDS_AIOHTTP, answered, probes, rating_request
from vbench.runners.api_common import FatalBackendError
from vbench.runners.choice import pool_option_probs
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner
from vbench.types import Message, Request

pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
from vbench.testing.api_server import Answer, Faults, rating_brain, rating_of  # noqa: E402


def _runner(srv, store, concurrency=8, **kw) -> OpenAIRunner:
    return OpenAIRunner(OpenAIArgs(model="test-model", base_url=srv.openai_url, **{**FAST, **kw}), store=store,
                        max_concurrency=concurrency)


def test_generate_sends_messages_images_and_params(server, store, images):
    srv = server()
    runner = _runner(srv, store)
    reqs = [rating_request(h, seed=i) for i, h in enumerate(images)]
    out = runner.run(reqs)
    runner.close()
    prompts = {e.prompt.seed: e.prompt for e in srv.events}
    for i, (h, resp) in enumerate(zip(images, out)):
        p = prompts[i]
        assert p.images == [store.get_bytes(h)]  # the exact stored bytes travelled as a data URL
        assert "1 to 7" in p.system and p.model == "test-model" and p.max_tokens == 256
        assert resp.ok and resp.method == "generate" and resp.text == str(rating_of(p))
        assert resp.usage["completion_tokens"] >= 1


def test_choose_pools_the_servers_logprobs(server, store, images):
    srv = server()
    runner = _runner(srv, store, choice_method="logprobs")
    out = runner.run([rating_request(h, kind="choose") for h in images])
    runner.close()
    assert all(e.prompt.logprobs and e.prompt.top_logprobs == 20 and e.prompt.max_tokens == 1 for e in srv.events)
    for h, resp in zip(images, out):
        sent = next(e.prompt for e in srv.events if e.prompt.images == [store.get_bytes(h)])
        expected, mass = pool_option_probs(rating_brain(sent).top_logprobs, tuple("1234567"))
        assert resp.method == "logprobs"
        assert resp.probs == pytest.approx(expected) and resp.option_mass == pytest.approx(mass)
        assert max(resp.probs, key=resp.probs.get) == str(rating_of(sent))
    assert runner.choice_scoring == "first-token-logprobs"


@pytest.mark.parametrize("mode", ["reject", "ignore"])
def test_choose_falls_back_to_a_parsed_constrained_prompt(server, store, images, mode):
    srv = server(logprobs=mode, brain=lambda p: Answer(text=f"My rating is {rating_of(p)}."))
    runner = _runner(srv, store)
    out = runner.run([rating_request(h, kind="choose") for h in images])
    out += runner.run([rating_request(images[0], kind="choose", seed=99)])  # later calls skip the probe
    runner.close()
    for resp in out:
        assert resp.ok and resp.method == "parsed" and resp.option_mass == 1.0
        assert sorted(resp.probs.values()) == [0.0] * 6 + [1.0]
        assert resp.text.startswith("My rating is ")
    parsed_prompts = [e.prompt for e in answered(srv) if not e.prompt.logprobs]
    assert all("Answer with exactly one of: 1, 2, 3, 4, 5, 6, 7." in p.text for p in parsed_prompts)
    assert len([e for e in srv.events if e.prompt.logprobs]) <= len(images)  # the probe is not repeated forever
    assert probes(srv) == 1 and runner.choice_scoring == "constrained-sample"


def test_unparseable_choice_is_an_answer_not_an_error(server, store, images):
    srv = server(logprobs="ignore", brain=lambda p: Answer(text="I cannot rate people."))
    runner = _runner(srv, store)
    [resp] = runner.run([rating_request(images[0], kind="choose")])
    runner.close()
    assert resp.ok and resp.probs is None and resp.option_mass == 0.0 and resp.text == "I cannot rate people."


@pytest.mark.parametrize("kind", ["429", "500", "drop", "timeout"])
def test_transient_faults_are_retried_until_success(server, store, images, kind):
    srv = server(faults=Faults(rule=lambda p, attempt: kind if attempt < 2 else None, hang=1.5))
    runner = _runner(srv, store, timeout=0.4)
    out = runner.run([rating_request(h) for h in images])
    runner.close()
    assert all(r.ok for r in out)
    assert srv.outcomes() == {kind: 2 * len(images), "ok": len(images)}
    assert runner.retries == 2 * len(images) and runner.failures == 0


def test_exhausted_retries_become_per_request_errors(server, store, images):
    bad = store.get_bytes(images[1])
    srv = server(faults=Faults(rule=lambda p, a: "500" if p.images == [bad] else None))
    runner = _runner(srv, store, max_retries=2)
    out = runner.run([rating_request(h) for h in images])
    runner.close()
    assert [r.ok for r in out] == [True, False, True]
    assert "InternalServerError (500)" in out[1].error and out[1].text is None
    assert srv.outcomes()["500"] == 3  # 1 try + 2 retries
    assert runner.failures == 1


def test_bad_request_is_not_retried(server, store, images):
    srv = server(faults=Faults(rule=lambda p, a: "400"))
    runner = _runner(srv, store)
    [resp] = runner.run([rating_request(images[0])])
    runner.close()
    assert not resp.ok and "(400)" in resp.error and len(srv.events) == 1


def test_retry_after_is_honoured(server, store, images):
    srv = server(faults=Faults(rule=lambda p, a: "429" if a == 0 else None, retry_after=0.6))
    runner = _runner(srv, store)
    runner.run([rating_request(images[0])])
    runner.close()
    first, second = srv.events
    assert second.t - first.t >= 0.6  # waited at least what the server asked (backoff alone is ~0.01 s)


def test_concurrency_is_bounded_and_used(server, store, images):
    srv = server(latency=0.05)
    runner = _runner(srv, store, concurrency=5)
    reqs = [Request(messages=(Message.user(f"question {i}"),)) for i in range(40)]
    out = runner.run(reqs)
    runner.close()
    assert all(r.ok for r in out) and len(srv.events) == 40
    assert 1 < srv.max_inflight <= 5
    assert [r.text for r in out] == [str(rating_of(e.prompt)) for e in sorted(
        srv.events, key=lambda e: int(e.prompt.text.split()[-1]))]  # answers come back in request order


def test_auth_failure_stops_the_run_with_the_key_scrubbed(server, store, images, monkeypatch):
    monkeypatch.setenv("VBENCH_TEST_KEY", "sk-very-secret-123")
    srv = server(echo_key=True)
    runner = _runner(srv, store, api_key_env="VBENCH_TEST_KEY")
    with pytest.raises(FatalBackendError) as err:
        runner.run([rating_request(h) for h in images])
    runner.close()
    assert srv.events[0].prompt.api_key == "sk-very-secret-123"  # the key was sent ...
    assert "authentication failed" in str(err.value) and "VBENCH_TEST_KEY" in str(err.value)
    assert "sk-very-secret-123" not in str(err.value)  # ... but never shown


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_both_http_transports(server, store, images, client):
    srv = server(faults=Faults(rule=lambda p, a: "drop" if a == 0 else None))
    runner = _runner(srv, store, http_client=client)
    out = runner.run([rating_request(h) for h in images])
    runner.close()
    assert all(r.ok for r in out) and srv.outcomes() == {"drop": 3, "ok": 3}


def test_runner_is_reusable_across_batches_and_closes(server, store, images):
    srv = server()
    runner = _runner(srv, store)
    a = runner.run([rating_request(images[0])])
    b = runner.run([rating_request(images[1])])
    assert runner.calls == 2 and a[0].ok and b[0].ok
    runner.close()
    runner.close()  # idempotent
    assert runner.run([]) == []
    assert runner.run([rating_request(images[2])])[0].ok  # a closed runner starts a new client when used again
    runner.close()
    assert len(srv.events) == 3
