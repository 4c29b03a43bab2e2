"""The packaged Schwartz value set and user value files."""
from __future__ import annotations

import pytest

from vbench.data.schwartz import load_schwartz
from vbench.errors import UsageError

PAPER_ORDER = ["Self-direction", "Universalism", "Benevolence", "Stimulation", "Power", "Achievement", "Hedonism",
               "Conformity", "Tradition", "Security"]


def test_packaged_values_cover_the_paper():
    s = load_schwartz()
    assert s.names == PAPER_ORDER
    assert s.version
    for v in s.values:
        assert len(v.keywords) >= 6 and v.definition and v.code
    assert {"equality", "globe", "handshake"} <= set(s.get("Universalism").keywords)
    assert {"vacation", "comedy", "concert"} <= set(s.get("Hedonism").keywords)
    rows = s.keyword_rows()
    assert len(rows) == sum(len(v.keywords) for v in s.values)
    assert len({k for _, k in rows}) == len(rows)


def test_user_value_file(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("version: x1\nvalues:\n- {name: A, code: A, definition: d, keywords: [cat, dog]}\n")
    assert load_schwartz(f).keyword_rows() == [("A", "cat"), ("A", "dog")]
    f.write_text("version: x1\nvalues:\n- {name: A, code: A, definition: d, keywords: [cat]}\n"
                 "- {name: B, code: B, definition: d, keywords: [Cat]}\n")
    with pytest.raises(UsageError, match="appears under both"):
        load_schwartz(f)
    with pytest.raises(UsageError, match="not found"):
        load_schwartz(tmp_path / "missing.yaml")
    f.write_text("version: [")
    with pytest.raises(UsageError, match="YAML"):
        load_schwartz(f)
