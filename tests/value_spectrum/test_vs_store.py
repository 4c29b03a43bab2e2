"""The corpus layout contract: load_corpus opens what write_corpus/build_corpus write; item_values."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vbench.data.corpus.store import (KeywordTable, item_values, load_corpus, normalise, value_similarity,
                                      write_corpus)
from vbench.errors import UsageError


def _rows(n, tmp_path):
    rows = []
    for i in range(n):
        f = tmp_path / f"img{i}.png"
        Image.new("RGB", (8, 8), (i * 7 % 255, 0, 0)).save(f)
        rows.append({"id": f"item{i}", "image": str(f), "platform": ["tiktok", "youtube"][i % 2], "caption": None})
    return rows


def _table(rng, d=16):
    values = np.array(["A", "A", "B", "B", "C"])
    kws = np.array(["a1", "a2", "b1", "b2", "c1"])
    return KeywordTable(values=values, keywords=kws, vectors=normalise(rng.normal(size=(5, d))))


def test_load_corpus_round_trip_and_item_values(tmp_path):
    rng = np.random.default_rng(0)
    table = _table(rng)
    # each item planted next to one keyword; its nearest value must be that keyword's value
    which = rng.integers(0, 5, size=40)
    emb = normalise(table.vectors[which] + 0.05 * rng.normal(size=(40, 16)))
    write_corpus(tmp_path / "c", _rows(40, tmp_path), emb, clip_model="tiny", keywords=table, schwartz_version="t1")

    c = load_corpus(tmp_path / "c")
    assert (c.n, c.dim) == (40, 16) and c.meta.index_type == "flat" and c.meta.schwartz_version == "t1"
    assert isinstance(c.embeddings, np.memmap)
    assert np.allclose(np.linalg.norm(c.embeddings, axis=1), 1, atol=1e-5)
    assert c.items[3]["id"] == "item3" and c.items[3]["platform"] == "youtube" and c.items[3]["caption"] is None
    assert c.items[0]["image"].size == (8, 8)
    assert c.keywords.value_names == ["A", "B", "C"]
    got = item_values(c, chunk=7)  # chunking must not change the answer
    assert got.tolist() == table.values[which].tolist()
    names, sims = value_similarity(c.embeddings, c.keywords)
    assert names == ["A", "B", "C"] and sims.shape == (40, 3)
    # index search agrees with brute force
    ip, ids = c.index.search(np.ascontiguousarray(table.vectors), 3)
    brute = np.argsort(-(np.asarray(c.embeddings) @ table.vectors.T), axis=0)[:3].T
    assert (ids == brute).all()


def test_item_values_needs_keywords(tmp_path):
    rng = np.random.default_rng(1)
    write_corpus(tmp_path / "c", _rows(3, tmp_path), rng.normal(size=(3, 8)), clip_model="tiny")
    c = load_corpus(tmp_path / "c")
    assert c.keywords is None
    with pytest.raises(UsageError, match="build-split"):
        item_values(c)


def test_load_corpus_rejects_missing_and_inconsistent(tmp_path):
    with pytest.raises(UsageError, match="not a built corpus"):
        load_corpus(tmp_path)
    rng = np.random.default_rng(2)
    write_corpus(tmp_path / "c", _rows(4, tmp_path), rng.normal(size=(4, 8)), clip_model="tiny")
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    meta["n"] = 5
    (tmp_path / "c" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="inconsistent"):
        load_corpus(tmp_path / "c")
