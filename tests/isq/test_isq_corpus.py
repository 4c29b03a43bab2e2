import numpy as np
import pytest

from vbench.errors import UsageError
from vbench.tasks.isq_induction.feed_corpus import load_feed_corpus
from vbench.tasks.isq_induction.schwartz import VALUES


def test_reads_the_contract_layout(feed_corpus):
    c = load_feed_corpus(feed_corpus)
    assert len(c) == 400 and c.embeddings.shape == (400, 16) and c.embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(c.embeddings, axis=1), 1, atol=1e-5)
    assert c.platforms is not None and {"TikTok", "YouTube Shorts", "Instagram Reels"} == set(c.platforms)
    # nearest-keyword value agrees with the value the synthetic item was drawn from (in its caption)
    planted = [VALUES.index(next(v for v in VALUES if v.lower() in cap)) for cap in c.items["caption"]]
    assert (c.values == np.array(planted)).mean() > 0.9
    assert c.image(0)["bytes"][:4] == b"\x89PNG"


def test_fingerprint_follows_the_embeddings(corpus_copy, feed_corpus):
    emb = np.load(corpus_copy / "embeddings.npy")
    emb[[0, 1]] = emb[[1, 0]]
    np.save(corpus_copy / "embeddings.npy", emb)
    assert load_feed_corpus(corpus_copy).fingerprint != load_feed_corpus(feed_corpus).fingerprint


def test_unnormalised_embeddings_are_normalised(corpus_copy):
    emb = np.load(corpus_copy / "embeddings.npy")
    np.save(corpus_copy / "embeddings.npy", emb * 3)
    c = load_feed_corpus(corpus_copy)
    assert np.allclose(c.embeddings, emb, atol=1e-6)


@pytest.mark.parametrize("breakage, message", [
    (lambda p: (p / "embeddings.npy").unlink(), "no embeddings.npy"),
    (lambda p: np.save(p / "embeddings.npy", np.load(p / "embeddings.npy")[:10]), "inconsistent"),
    (lambda p: np.save(p / "embeddings.npy", np.zeros((400, 16), np.float32)), "all zeros"),
    (lambda p: (p / "keywords.npz").unlink(), "no keywords.npz"),
    (lambda p: (p / "meta.json").unlink(), "no meta.json"),
    (lambda p: np.save(p / "embeddings.npy", np.full((400, 16), np.nan, np.float32)), "NaN"),
    (lambda p: np.savez(p / "keywords.npz", values=np.array(["Kindness"]), keywords=np.array(["k"]),
                        vectors=np.ones((1, 16), np.float32)), "'Kindness' is not a Schwartz value"),
])
def test_bad_corpora_are_usage_errors(corpus_copy, breakage, message):
    breakage(corpus_copy)
    with pytest.raises(UsageError, match=message):
        load_feed_corpus(corpus_copy)


def test_missing_folder(tmp_path):
    with pytest.raises(UsageError, match="corpus folder not found"):
        load_feed_corpus(tmp_path / "nope")
