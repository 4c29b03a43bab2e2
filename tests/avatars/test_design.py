"""The factorial prompt design: balance, determinism, versioned templates, bad factor names."""
from __future__ import annotations

import collections

import pytest

from vbench.data.avatars.design import FACTORS, available_versions, cells, load_templates, make_design
from vbench.errors import UsageError


def test_full_design_is_balanced_over_the_48_cells():
    t = load_templates("1")
    assert list(t.factors) == list(FACTORS)
    all_cells = cells(t, list(FACTORS))
    assert len(all_cells) == 48 and all(c["black_clothes"] + c["white_clothes"] <= 1 for c in all_cells)
    items = make_design(t, 48 * 3 + 5, seed=1)
    counts = collections.Counter(tuple(sorted(i.factors.items())) for i in items[:48 * 3])
    assert len(counts) == 48 and set(counts.values()) == {3}
    assert len({i.seed for i in items}) == len(items)          # one seed per image
    assert len({i.id for i in items}) == len(items)


def test_items_depend_only_on_index_so_builds_can_grow():
    t = load_templates("v1")
    small, large = make_design(t, 30, seed=7), make_design(t, 100, seed=7)
    assert [i.model_dump() for i in small] == [i.model_dump() for i in large[:30]]
    assert make_design(t, 30, seed=8)[0].seed != small[0].seed


def test_prompts_say_what_the_labels_say():
    t = load_templates("1")
    for item in make_design(t, 96, seed=0):
        for name, text in t.factors.items():
            on = any(p in item.prompt for p in text.on)
            assert on == bool(item.factors[name]), (name, item.prompt)
            if not item.factors[name] and text.negative_off:
                assert text.negative_off in item.negative_prompt


def test_varying_a_subset_keeps_the_others_off():
    t = load_templates("1")
    items = make_design(t, 8, vary=["weapon", "smile"])
    assert {(i.factors["weapon"], i.factors["smile"]) for i in items} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert all(i.factors["teeth"] == 0 and i.factors["covered_face"] == 0 for i in items)


def test_unknown_factor_and_version_are_clear_errors(tmp_path):
    t = load_templates("1")
    with pytest.raises(UsageError, match="unknown factor 'smiles'; did you mean 'smile'"):
        make_design(t, 4, vary=["smiles"])
    with pytest.raises(UsageError, match="unknown version"):
        load_templates("9")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '2'\nprompt: x\n")
    with pytest.raises(UsageError, match="invalid template file"):
        load_templates(str(bad))
    assert "1" in available_versions()


def test_cli_dry_run_and_bad_factor(run_cli):
    ok = run_cli("data", "build-avatars", "--out", "x", "--n", "10", "--factors", "weapon,teeth", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    assert "4 factor cells" in ok.stdout
    bad = run_cli("data", "build-avatars", "--out", "x", "--factors", "weapon,sword", "--dry-run")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown factor 'sword'" in bad.stderr
    assert "Traceback" not in bad.stderr
