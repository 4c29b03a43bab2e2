"""Parsing of ``k=v,k2=v2`` argument strings (``--model_args``, ``--gen_kwargs``, ``--task_args``)."""
from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vbench.errors import UsageError

M = TypeVar("M", bound=BaseModel)


def parse_kv(text: str | dict | None, flag: str = "--model_args") -> dict[str, str]:
    """``"a=1,b=x"`` → ``{"a": "1", "b": "x"}``; a clear UsageError for anything malformed."""
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        return {str(k): v for k, v in text.items()}
    out: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag}: expected key=value pairs separated by commas, got {item!r}")
        key = key.strip()
        if key in out:
            raise UsageError(f"{flag}: key {key!r} given twice")
        out[key] = value.strip()
    return out


def validate_args(model: type[M], values: dict[str, Any], flag: str) -> M:
    """Validate parsed k=v pairs against a pydantic model; one line naming the bad key on failure."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(value)"
        known = ", ".join(model.model_fields)
        if err["type"] == "extra_forbidden":
            raise UsageError(f"{flag}: unknown key {loc!r} (known: {known})") from None
        raise UsageError(f"{flag}: {loc}: {err['msg']}") from None


def redact(values: dict[str, Any]) -> dict[str, Any]:
    """Drop anything that looks like a secret before it reaches logs or results."""
    secret = ("key", "token", "secret", "password")
    return {k: ("<redacted>" if any(s in k.lower() for s in secret) and not k.lower().endswith("_env") else v)
            for k, v in values.items()}
