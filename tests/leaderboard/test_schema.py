"""Strict reading, exported JSON Schemas, name sanitising."""
from __future__ import annotations

import json

import jsonschema
import pytest

from vbench.leaderboard.schema import (SCHEMA_DIR, InputError, Limits, display_name, export_schemas, loads_strict,
                                       read_strict, safe_slug)


def test_exported_schema_files_match_the_models():
    exported = export_schemas()
    for name, schema in exported.items():
        on_disk = json.loads((SCHEMA_DIR / name).read_text())
        assert on_disk == json.loads(json.dumps(schema)), f"{name} is stale: run `vbench validate --write-schemas`"


def test_real_results_validate_against_exported_schema(runs):
    schema = json.loads((SCHEMA_DIR / "results-1.0.schema.json").read_text())
    results = json.loads((runs["seed0"] / "results.json").read_text())
    jsonschema.validate(results, schema)
    results["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, schema)
    del results["surprise"]
    results["counts"]["n_ok"] = "twelve"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, schema)


def test_packed_submission_validates_against_exported_schema(runs):
    from tests.leaderboard.conftest import packed

    schema = json.loads((SCHEMA_DIR / "submission-1.schema.json").read_text())
    jsonschema.validate(packed(runs["seed0"]), schema)


@pytest.mark.parametrize("text, reason", [
    ('{"a": 1, "a": 2}', "duplicate key"),
    ("[" * 40 + "]" * 40, "nested"),
    ('{"a": ', "not valid JSON"),
])
def test_loads_strict_refuses(text, reason):
    with pytest.raises(InputError, match=reason):
        loads_strict(text, Limits())


def test_read_strict_checks_size_before_reading(tmp_path):
    big = tmp_path / "big.json"
    big.write_text('{"pad": "' + "x" * 5000 + '"}')
    with pytest.raises(InputError, match="over the 1,000-byte limit"):
        read_strict(big, Limits(max_file_bytes=1000))
    link = tmp_path / "link.json"
    link.symlink_to(big)
    with pytest.raises(InputError, match="symbolic link"):
        read_strict(link, Limits())


@pytest.mark.parametrize("raw", ["../../etc/passwd", "..", ".hidden", "a/b\\c", "", "<script>", "x" * 300])
def test_safe_slug_never_escapes(raw):
    slug = safe_slug(raw)
    assert slug and "/" not in slug and "\\" not in slug and not slug.startswith(".") and len(slug) <= 80
    assert slug not in (".", "..")


def test_display_name_removes_control_and_bidi_characters():
    assert display_name("gpt\x00-4o\n\u202eevil") == "gpt -4o evil"
    assert len(display_name("m" * 500)) == 120
