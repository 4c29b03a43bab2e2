from collections import Counter

import pytest

from vbench.errors import UsageError
from vbench.tasks.isq_induction.personas import load_personas
from vbench.tasks.isq_induction.schwartz import VALUES, canonical_value


def test_builtin_personas_are_balanced_over_the_ten_values():
    personas = load_personas()
    assert len(personas) >= 60
    assert len({p.id for p in personas}) == len(personas)
    for p in personas:
        assert len(p.traits) == 5 and all(t.startswith(("I ", "My ", "I'm ")) or t[0].isupper() for t in p.traits)
        assert 1 <= len(p.values) <= 2 and all(v in VALUES for v in p.values)
    counts = Counter(v for p in personas for v in p.values)
    assert set(counts) == set(VALUES)
    assert max(counts.values()) - min(counts.values()) <= 1
    primary = Counter(p.values[0] for p in personas)
    assert set(primary.values()) == {len(personas) // 10}


def test_value_names_are_matched_loosely_but_exactly_canonical():
    assert canonical_value("self_direction") == "Self-direction"
    assert canonical_value(" SELF DIRECTION ") == "Self-direction"
    assert canonical_value("Benevolence") == "Benevolence"
    assert canonical_value("kindness") is None


def test_user_file_in_personachat_shape(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"personality": ["I own a boat.", "I fish every day."], "values": "hedonism|Stimulation"}\n'
                 '{"id": "x", "traits": "I pray daily.\\nI bake bread.", "target_values": ["tradition"]}\n')
    a, b = load_personas(str(f))
    assert a.id == "persona-001" and a.traits == ["I own a boat.", "I fish every day."]
    assert a.values == ["Hedonism", "Stimulation"]
    assert b.id == "x" and b.traits == ["I pray daily.", "I bake bread."] and b.values == ["Tradition"]


def test_personas_from_a_dataset_file(tmp_path):
    import datasets

    path = tmp_path / "personas.parquet"
    datasets.Dataset.from_dict({"personality": [["I am a nurse.", "I save money."]],
                                "values": [["Security"]]}).to_parquet(str(path))
    (p,) = load_personas(str(path))
    assert p.values == ["Security"] and p.traits[0] == "I am a nurse."


@pytest.mark.parametrize("content, message", [
    ('{"traits": ["I sing."]}\n', "no target values"),
    ('{"traits": ["I sing."], "values": []}\n', "no target values"),
    ('{"traits": ["I sing."], "values": ["Kindness"]}\n', "not a Schwartz value"),
    ('{"values": ["Power"]}\n', "no trait sentences"),
    ('{"id": "a", "traits": ["x"], "values": ["Power"]}\n{"id": "a", "traits": ["y"], "values": ["Power"]}\n',
     "appears twice"),
])
def test_bad_persona_files_are_usage_errors(tmp_path, content, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    with pytest.raises(UsageError, match=message):
        load_personas(str(f))
