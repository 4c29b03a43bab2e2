"""The submission format: one packed run (results.json + per-sample records and their hashes) per file.

A submission is untrusted until checked, so reading one is strict: a size cap before any byte is
parsed, no duplicate keys, bounded nesting, and pydantic models that forbid unknown fields. NaN and
Infinity parse (an honest metric can be undefined, e.g. r2 of a constant answer) and are then allowed
only inside the metrics block, where they show as blanks. The JSON Schemas of both formats are exported to ``vbench/leaderboard/schemas/``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from vbench.results import SCHEMA_VERSION, RunResults

FORMAT: Final = "vbench-submission"
FORMAT_VERSION: Final = "1"
VERIFICATION_FORMAT: Final = "vbench-verification"
SUPPORTED_SCHEMA_VERSIONS = (SCHEMA_VERSION,)
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SHA256 = r"^[0-9a-f]{64}$"


class Limits(BaseModel):
    """Caps applied to every file read from a results dataset (all configurable on the CLI)."""

    model_config = ConfigDict(extra="forbid")
    max_file_bytes: int = Field(64 * 2**20, ge=1)
    max_records: int = Field(200_000, ge=0)
    max_depth: int = Field(32, ge=4)
    max_files: int = Field(100_000, ge=1)
    max_name_chars: int = Field(200, ge=8)
    max_metric_leaves: int = Field(20_000, ge=1)


class SampleHash(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episode_id: str = Field(max_length=500)
    sha256: str = Field(pattern=SHA256)


class Submission(BaseModel):
    """One run as stored in the results dataset: ``submissions/<model>/<task>__<version>__<id>.json``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    format: Literal["vbench-submission"] = FORMAT
    format_version: Literal["1"] = FORMAT_VERSION
    results: RunResults
    sample_hashes: list[SampleHash] = Field(default_factory=list,
                                            description="sha256 of each samples.jsonl line, in file order")
    samples: list[dict[str, Any]] | None = Field(None, description="the per-episode records; None if withheld")
    packed_at: str = Field(max_length=64)
    packed_with: str = Field(max_length=64, description="vbench version that packed the run")
    notes: str | None = Field(None, max_length=2000)


class Verification(BaseModel):
    """Outcome of `vbench leaderboard verify`: a re-run of a random subset of a submission's episodes."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["vbench-verification"] = VERIFICATION_FORMAT
    format_version: Literal["1"] = FORMAT_VERSION
    submission: str = Field(max_length=500, description="path of the submission inside the dataset")
    submission_sha256: str = Field(pattern=SHA256)
    passed: bool
    checked: int = Field(ge=0)
    agreed: int = Field(ge=0)
    agreement: float = Field(ge=0, le=1)
    min_agreement: float = Field(ge=0, le=1)
    abs_tolerance: float = Field(ge=0)
    episode_ids: list[str] = Field(default_factory=list, max_length=100_000)
    mismatches: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    model_fingerprint_match: bool
    dataset_fingerprint_match: bool
    verified_with: str = Field(max_length=64)
    verified_at: str = Field(max_length=64)


class InputError(ValueError):
    """A file that fails a strict-reading rule; the message is the reason shown in the build report."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"duplicate key {key[:40]!r} in a JSON object")
        out[key] = value
    return out


def _depth_ok(obj: Any, max_depth: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return True


def loads_strict(raw: bytes | str, limits: Limits) -> Any:
    """Parse JSON refusing duplicate keys, excessive nesting and oversize input."""
    if len(raw) > limits.max_file_bytes:
        raise InputError(f"file is {len(raw):,} bytes, over the {limits.max_file_bytes:,}-byte limit")
    if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark is an encoding detail, not content
    elif isinstance(raw, str):
        raw = raw.removeprefix("\ufeff")
    try:
        obj = json.loads(raw, object_pairs_hook=_unique_keys)
    except InputError:
        raise
    except RecursionError:
        raise InputError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({str(exc)[:120]})") from None
    if not _depth_ok(obj, limits.max_depth):
        raise InputError(f"JSON nested deeper than {limits.max_depth} levels")
    return obj


def read_strict(path: Path, limits: Limits) -> tuple[Any, bytes]:
    """Size-check via stat before reading (an oversize file is never loaded), then parse strictly."""
    if path.is_symlink():
        raise InputError("symbolic links are not accepted")
    if not path.exists():
        raise InputError("no such file")
    if not path.is_file():
        raise InputError("not a regular file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise InputError(f"file is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit")
    raw = path.read_bytes()
    return loads_strict(raw, limits), raw


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def safe_slug(text: str, max_len: int = 80) -> str:
    """A file/folder name that cannot escape its parent: [A-Za-z0-9._-], no leading dot, never empty."""
    slug = _UNSAFE.sub("_", text).strip("_.-")[:max_len].strip("_.-")
    return slug or "unnamed"


def display_name(text: Any, max_len: int = 120) -> str:
    """Printable single-line text for tables: control/bidi characters removed, length capped.

    HTML escaping happens at render time (autoescaping templates); this only makes the text sane.
    """
    cleaned = " ".join(_CONTROL.sub(" ", str(text)).split())
    return cleaned if len(cleaned) <= max_len else cleaned[: max_len - 1] + "…"


def export_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas by file name; the files in ``schemas/`` are these, written by ``--write-schemas``."""
    from vbench.results import json_schema

    return {
        f"results-{SCHEMA_VERSION}.schema.json": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                                 "$id": f"vbench:results-{SCHEMA_VERSION}", **json_schema()},
        f"submission-{FORMAT_VERSION}.schema.json": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                                    "$id": f"vbench:submission-{FORMAT_VERSION}",
                                                    **Submission.model_json_schema()},
        f"verification-{FORMAT_VERSION}.schema.json": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                                      "$id": f"vbench:verification-{FORMAT_VERSION}",
                                                      **Verification.model_json_schema()},
    }


def write_schemas(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in export_schemas().items():
        path = out_dir / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
