"""Anthropic and Gemini runners against the loopback server, through the official SDKs."""
from __future__ import annotations

import pytest

from tests.runners.conftest import FAST, NEEDS_AIOHTTP, rating_request
from vbench.runners.anthropic_api import AnthropicArgs, AnthropicRunner, to_anthropic
from vbench.runners.api_common import FatalBackendError
from vbench.runners.gemini_api import GeminiArgs, GeminiRunner
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner
from vbench.types import GenParams, ImagePart, Message, Request

pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
from vbench.testing.api_server import Answer, Faults, rating_of  # noqa: E402

BACKENDS = [(AnthropicRunner, AnthropicArgs, "anthropic"), (GeminiRunner, GeminiArgs, "gemini")]


def _runner(cls, args_cls, srv, store, **kw):
    return cls(args_cls(model="test-model", base_url=srv.url, **{**FAST, **kw}), store=store, max_concurrency=4)


@pytest.mark.parametrize("cls, args_cls, wire", BACKENDS)
def test_generate_wire_format(server, store, images, cls, args_cls, wire):
    srv = server()
    runner = _runner(cls, args_cls, srv, store)
    out = runner.run([rating_request(h, seed=7) for h in images])
    runner.close()
    assert {e.prompt.wire for e in srv.events} == {wire}
    for h, resp in zip(images, out):
        sent = next(e.prompt for e in srv.events if e.prompt.images == [store.get_bytes(h)])
        assert "1 to 7" in sent.system and "1 to 7" not in sent.text  # system prompt sent as such
        assert sent.max_tokens == 256 and sent.model == "test-model"
        assert resp.ok and resp.method == "generate" and resp.text == str(rating_of(sent))
        assert resp.usage["completion_tokens"] >= 1
    if wire == "gemini":
        assert {e.prompt.seed for e in srv.events} == {7}


@pytest.mark.parametrize("cls, args_cls, wire", BACKENDS)
def test_choose_is_parsed_from_a_constrained_prompt(server, store, images, cls, args_cls, wire):
    srv = server(brain=lambda p: Answer(text=f"{rating_of(p)} out of 7"))
    runner = _runner(cls, args_cls, srv, store)
    out = runner.run([rating_request(h, kind="choose") for h in images])
    runner.close()
    for h, resp in zip(images, out):
        sent = next(e.prompt for e in srv.events if e.prompt.images == [store.get_bytes(h)])
        assert "Answer with exactly one of: 1, 2, 3, 4, 5, 6, 7." in sent.text and not sent.logprobs
        assert resp.method == "parsed" and resp.probs[str(rating_of(sent))] == 1.0 and sum(resp.probs.values()) == 1.0
    assert runner.choice_scoring == "constrained-sample"


@pytest.mark.parametrize("cls, args_cls, wire", BACKENDS)
@pytest.mark.parametrize("kind", ["429", "500", "drop", "timeout"])
def test_faults_are_retried(server, store, images, cls, args_cls, wire, kind):
    srv = server(faults=Faults(rule=lambda p, a: kind if a == 0 else None, hang=1.5))
    runner = _runner(cls, args_cls, srv, store, timeout=0.4)
    out = runner.run([rating_request(h) for h in images[:2]])
    runner.close()
    assert all(r.ok for r in out), [r.error for r in out]
    assert srv.outcomes() == {kind: 2, "ok": 2} and runner.retries == 2


@pytest.mark.parametrize("cls, args_cls, wire", BACKENDS)
def test_persistent_failure_is_a_response_error(server, store, images, cls, args_cls, wire):
    srv = server(faults=Faults(rule=lambda p, a: "500"))
    runner = _runner(cls, args_cls, srv, store, max_retries=1)
    [resp] = runner.run([rating_request(images[0])])
    runner.close()
    assert not resp.ok and "500" in resp.error and resp.error.startswith(wire)
    assert len(srv.events) == 2


@pytest.mark.parametrize("cls, args_cls, wire", BACKENDS)
def test_auth_failure_is_fatal_and_scrubbed(server, store, images, cls, args_cls, wire, monkeypatch):
    monkeypatch.setenv("VBENCH_TEST_KEY", "key-abc-987654")
    srv = server(echo_key=True)
    runner = _runner(cls, args_cls, srv, store, api_key_env="VBENCH_TEST_KEY")
    with pytest.raises(FatalBackendError) as err:
        runner.run([rating_request(images[0])])
    runner.close()
    assert srv.events[0].prompt.api_key == "key-abc-987654"
    assert "key-abc-987654" not in str(err.value)


def test_anthropic_messages_merge_roles_and_drop_empty_text(store, images):
    msgs = (Message.system("be terse"), Message.user("first"), Message.user(ImagePart(image=images[0]), ""),
            Message.assistant("ok"), Message.user("again"))
    system, out = to_anthropic(msgs, lambda h: ("image/png", "QUJD"))
    assert system == "be terse"
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert out[0]["content"] == [{"type": "text", "text": "first"},
                                 {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}]


@pytest.mark.parametrize("cls, args_cls", [(AnthropicRunner, AnthropicArgs), (OpenAIRunner, OpenAIArgs)])
def test_temperature_is_sent_only_when_asked(server, store, cls, args_cls):
    srv = server()
    for flag in (False, True):
        runner = cls(args_cls(model="m", base_url=srv.url + ("/v1" if cls is OpenAIRunner else ""),
                              send_temperature=flag, **FAST), store=store)
        req = Request(messages=(Message.user(f"hi {flag}"),), gen=GenParams(temperature=0.3))
        assert runner.run([req])[0].ok
        runner.close()
        assert runner.fingerprint_fields()["send_temperature"] is flag  # it changes answers
    assert [e.prompt.temperature for e in srv.events] == [None, 0.3]
