"""Shared API-runner machinery: Retry-After parsing, backoff, fingerprints, keys."""
from __future__ import annotations

import email.utils
import time
from types import SimpleNamespace

import pytest
import tenacity

from vbench.errors import UsageError
from vbench.runners.api_common import WaitRetryAfter, retry_after_seconds
from vbench.runners.factory import build_runner
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner


def _exc(**headers: str) -> Exception:
    exc = Exception("boom")
    exc.response = SimpleNamespace(headers={k.replace("_", "-"): v for k, v in headers.items()})  # type: ignore[attr-defined]
    return exc


def test_retry_after_forms():
    assert retry_after_seconds(_exc(retry_after_ms="250")) == pytest.approx(0.25)
    assert retry_after_seconds(_exc(retry_after="3")) == 3.0
    assert retry_after_seconds(_exc(retry_after="0.5")) == 0.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(_exc(retry_after=date)) <= 31
    assert retry_after_seconds(_exc()) is None
    assert retry_after_seconds(Exception("no response")) is None
    assert retry_after_seconds(_exc(retry_after="soon")) is None


def _state(exc: Exception, attempt: int = 1) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_wait_is_at_least_retry_after_and_capped():
    wait = WaitRetryAfter(tenacity.wait_fixed(0.1), cap=5.0)
    assert wait(_state(_exc(retry_after="2"))) == 2.0
    assert wait(_state(_exc(retry_after="0.01"))) == 0.1  # backoff longer than the server asked
    assert wait(_state(_exc(retry_after="600"))) == 5.0  # a huge Retry-After is capped
    assert wait(_state(Exception("connection reset"))) == 0.1


def test_fingerprint_has_answer_fields_only():
    a = OpenAIRunner(OpenAIArgs(model="m", base_url="http://127.0.0.1:9/v1", max_concurrency=4, timeout=5))
    b = OpenAIRunner(OpenAIArgs(model="m", base_url="http://127.0.0.1:9/v1", max_concurrency=64, max_retries=1,
                                api_key_env="OTHER"))
    c = OpenAIRunner(OpenAIArgs(model="m2", base_url="http://127.0.0.1:9/v1"))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert "api_key_env" not in a.fingerprint_fields() and "max_concurrency" not in a.fingerprint_fields()


def test_key_comes_from_the_named_env_var_and_is_required_for_hosted_apis(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        build_runner("openai", "model=gpt-4o")
    with pytest.raises(UsageError, match="MY_KEY"):
        build_runner("anthropic", "api_key_env=MY_KEY")
    monkeypatch.setenv("MY_KEY", "sk-test-secret")
    runner = build_runner("gemini", "api_key_env=MY_KEY")
    assert runner._secret == "sk-test-secret"
    assert "sk-test-secret" not in repr(runner.args) and "sk-test-secret" not in str(runner.fingerprint_fields())
    assert runner.scrub("bad key sk-test-secret!") == "bad key ***!"


def test_max_concurrency_flag_reaches_api_runners_only():
    api = build_runner("openai", "base_url=http://127.0.0.1:9/v1", max_concurrency=7)
    assert api.concurrency == 7 and api.batch_size >= 7
    per_model = build_runner("openai", "base_url=http://127.0.0.1:9/v1,max_concurrency=3", max_concurrency=7)
    assert per_model.concurrency == 3  # a role's own model_args win over the global flag
    assert build_runner("dummy", max_concurrency=7).batch_size == 16  # local backends ignore it
