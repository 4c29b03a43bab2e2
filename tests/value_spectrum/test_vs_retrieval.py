"""Retrieval quality on a corpus whose right answers are known: items planted next to keyword vectors."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vbench.data.corpus.abundance import abundance
from vbench.data.corpus.index import build_index, search
from vbench.data.corpus.split import build_split, embed_keywords, retrieve, reused_rows
from vbench.data.corpus.store import KeywordTable, load_corpus, normalise, write_corpus
from vbench.data.schwartz import load_schwartz

TOP_K = 5


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (6, 6), (i % 256, (i // 256) % 256, 7)).save(buf, format="PNG")
    return buf.getvalue()


def planted(table: KeywordTable, seed: int = 0, n_random: int = 300):
    """Per keyword: TOP_K items at L2 ≈ 0.045 (the answer) and TOP_K hard negatives at ≈ 0.2; plus noise."""
    rng = np.random.default_rng(seed)
    d = table.vectors.shape[1]
    vecs, truth = [], {}
    for k, kv in enumerate(table.vectors):
        rows = []
        for scale in (0.002, 0.009):
            for _ in range(TOP_K):
                if scale == 0.002:
                    rows.append(len(vecs))
                vecs.append(normalise(kv + scale * rng.normal(size=d)))
        truth[k] = rows
    vecs += list(normalise(rng.normal(size=(n_random, d))))
    perm = rng.permutation(len(vecs))  # the answer must not hide in the row order
    inv = np.argsort(perm)
    emb = np.stack(vecs)[perm]
    truth = {k: {int(inv[r]) for r in rows} for k, rows in truth.items()}
    return emb, truth


@pytest.fixture(scope="module")
def keyword_table(embedder):
    return embed_keywords(embedder, load_schwartz())


@pytest.mark.parametrize("kind,min_recall", [("flat", 1.0), ("ivf", 0.95), ("hnsw", 0.95)])
def test_recall_at_k_on_planted_corpus(keyword_table, kind, min_recall):
    emb, truth = planted(keyword_table)
    index, params = build_index(emb, kind)
    assert params["index_type"] == kind
    hits = retrieve(index, keyword_table, TOP_K)
    got: dict[int, set[int]] = {}
    for h in hits:
        k = next(i for i, (v, kw) in enumerate(zip(keyword_table.values, keyword_table.keywords))
                 if v == h["value"] and kw == h["keyword"])
        got.setdefault(k, set()).add(h["row"])
    recall = np.mean([len(got.get(k, set()) & rows) / TOP_K for k, rows in truth.items()])
    assert recall >= min_recall
    assert len(hits) == TOP_K * len(keyword_table.keywords)
    # reported distances are the L2 distances between the unit vectors
    for h in hits[:20]:
        k = list(keyword_table.keywords).index(h["keyword"])
        assert h["distance"] == pytest.approx(np.linalg.norm(emb[h["row"]] - keyword_table.vectors[k]), abs=1e-3)


def test_dedup_within_value_and_deeper_search():
    rng = np.random.default_rng(3)
    d = 16
    kv = normalise(rng.normal(size=(3, d)))
    table = KeywordTable(values=np.array(["A", "A", "B"]), keywords=np.array(["a1", "a2", "b1"]), vectors=kv)
    # rows 0-3 sit between a1 and a2 (same value) and near b1's opposite; row 4 duplicates row 0's image bytes
    emb = normalise(np.vstack([kv[0] + kv[1] + 0.01 * rng.normal(size=(4, d)), kv[0] + kv[1],
                               rng.normal(size=(7, d))]))
    keys = {0: "x", 4: "x"}
    index, _ = build_index(emb, "flat")
    hits = retrieve(index, table, top_k=3, content_key=lambda r: keys.get(r, r))
    a_rows = [h["row"] for h in hits if h["value"] == "A"]
    assert len(a_rows) == len(set(a_rows)) == 6  # nothing reused inside a value
    assert not {0, 4} <= set(a_rows)  # byte-identical images count once
    b_rows = [h["row"] for h in hits if h["value"] == "B"]
    assert len(b_rows) == 3 and not set(b_rows) & set(a_rows)  # by default an item serves one value
    shared = retrieve(index, table, top_k=3, content_key=lambda r: keys.get(r, r), reuse=True)
    shared_a = [h["row"] for h in shared if h["value"] == "A"]
    assert len(shared_a) == len(set(shared_a)) == 6 and len([h for h in shared if h["value"] == "B"]) == 3
    assert reused_rows(shared) == len({h["row"] for h in shared if h["value"] == "A"}
                                      & {h["row"] for h in shared if h["value"] == "B"}) and reused_rows(hits) == 0
    # ranks restart per keyword and distances grow within a keyword
    for kw in ("a1", "a2", "b1"):
        ks = [h for h in hits if h["keyword"] == kw]
        assert [h["rank"] for h in ks] == [1, 2, 3]
        assert all(x["distance"] <= y["distance"] + 1e-6 for x, y in zip(ks, ks[1:]))
    # a corpus smaller than the request: every row used once, no crash
    small, _ = build_index(emb[:5], "flat")
    hits = retrieve(small, table, top_k=4)
    assert sorted(h["row"] for h in hits) == [0, 1, 2, 3, 4]  # every row used once over all values


def test_build_split_on_planted_corpus(tmp_path, embedder, keyword_table):
    emb, truth = planted(keyword_table, seed=1, n_random=50)
    rows = [{"id": f"it{i}", "image": {"bytes": _png(i), "path": None}, "platform": ["tiktok", "youtube"][i % 2]}
            for i in range(len(emb))]
    write_corpus(tmp_path / "c", rows, emb, clip_model=embedder.model_id)
    rep = build_split(tmp_path / "c", top_k=TOP_K, embedder=embedder, radius=0.1)
    assert rep.n_rows == TOP_K * len(keyword_table.keywords) and not rep.short_keywords
    c = load_corpus(tmp_path / "c")
    assert c.keywords is not None and np.allclose(c.keywords.vectors, keyword_table.vectors, atol=1e-5)
    assert c.meta.schwartz_version == load_schwartz().version and c.meta.split["top_k"] == TOP_K
    import datasets

    split = datasets.load_from_disk(str(tmp_path / "c" / "split"))
    assert {"value", "keyword", "rank", "distance", "platform", "corpus_id", "image"} <= set(split.column_names)
    for k, kw in enumerate(keyword_table.keywords[:12]):
        ids = {r["corpus_id"] for r in split if r["keyword"] == kw}
        assert ids == {f"it{r}" for r in truth[k]}
    row = split[0]
    assert row["platform"] == ["tiktok", "youtube"][int(row["corpus_id"][2:]) % 2]
    # abundance at radius 0.1 counts exactly the planted answers (hard negatives sit at ~0.2)
    ab = abundance(c.embeddings, c.keywords, radius=0.1)
    assert all(r["count"] == TOP_K for r in ab["keywords"])
    assert ab["values"]["Hedonism"] == TOP_K * len(load_schwartz().get("Hedonism").keywords)
    assert (tmp_path / "c" / "abundance.png").stat().st_size > 0
    assert "Hedonism" in (tmp_path / "c" / "abundance.csv").read_text()


def test_search_reports_l2():
    rng = np.random.default_rng(5)
    emb = normalise(rng.normal(size=(50, 8)))
    index, _ = build_index(emb, "flat")
    dist, ids = search(index, emb[:3], 4)
    assert (ids[:, 0] == [0, 1, 2]).all() and np.allclose(dist[:, 0], 0, atol=1e-3)
    assert np.allclose(dist[0, 1], np.linalg.norm(emb[0] - emb[ids[0, 1]]), atol=1e-4)


def test_abundance_reports_the_papers_radius_and_a_calibrated_one(tmp_path):
    from vbench.data.corpus.abundance import write_abundance

    rng = np.random.default_rng(7)
    d = 32
    kv = normalise(rng.normal(size=(4, d)))
    table = KeywordTable(values=np.array(["A", "A", "B", "B"]), keywords=np.array(["a1", "a2", "b1", "b2"]), vectors=kv)
    # like CLIP image-text pairs: positive similarity to every keyword (all L2 < 1.5); 20 items close to a1
    emb = normalise(np.vstack([0.8 * kv[0] + 0.5 * kv.sum(axis=0) + rng.normal(size=(20, d)) / np.sqrt(d) * 0.5,
                               0.5 * kv.sum(axis=0) + rng.normal(size=(180, d)) / np.sqrt(d)]))
    ab = abundance(emb, table)
    assert ab["radius"] == 1.5 and ab["share_within_radius"] == 1.0
    assert ab["values"] == {"A": 200, "B": 200}  # the paper's radius counts everything
    cal = ab["calibrated"]
    assert cal["radius"] == pytest.approx(np.quantile(np.sqrt(2 - 2 * (emb @ kv.T).max(axis=1)), 0.1))
    assert cal["values"]["A"] == 20 and cal["values"]["B"] == 0  # the calibrated radius sees the cluster
    assert {r["keyword"]: r["count"] for r in cal["keywords"]}["a1"] == 20
    write_abundance(ab, tmp_path)
    text = (tmp_path / "abundance.csv").read_text()
    assert "A,*,200,1.5,paper" in text and f"A,*,20,{cal['radius']},calibrated" in text
