"""The item space a simulated feed recommends from: a platform slice, compact vectors and topics.

Production recommenders rank with compact item vectors and retrieve by topic (an inverted-file
index). The simulator does the same, so a scroll step for a thousand trials stays cheap:

* vectors: the corpus embeddings projected to ``pca_dim`` dimensions (faiss PCA, fitted on the whole
  corpus), re-normalised;
* topics: spherical k-means (faiss) over the slice, ``round(sqrt(n))`` topics by default; items are
  stored sorted by topic so each topic is one contiguous block;
* topic neighbours: cosine similarity between topic centroids (what a watch "spills" onto).

All of it is seeded, so the same corpus and seed give the same space.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vbench.errors import UsageError


@dataclass
class FeedSpace:
    name: str
    items: np.ndarray        # int [n]: corpus row of each local item (local order = sorted by topic)
    vecs: np.ndarray         # float32 [n, d], unit rows
    topic_of: np.ndarray     # int [n]
    offsets: np.ndarray      # int [C + 1]: topic c is local items offsets[c]:offsets[c+1]
    centroid_sim: np.ndarray  # float64 [C, C] cosine similarity of topic centroids

    @property
    def n(self) -> int:
        return int(self.items.size)

    @property
    def n_topics(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)


def _unit(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def project(embeddings: np.ndarray, pca_dim: int, seed: int = 0, max_train: int = 20_000) -> np.ndarray:
    """PCA to ``pca_dim`` (faiss), fitted on at most ``max_train`` seeded rows.

    Identity when the vectors are already that small, or when there are too few items for that many
    components (then scoring the raw vectors is cheap anyway)."""
    if embeddings.shape[1] <= pca_dim or embeddings.shape[0] <= 2 * pca_dim:
        return _unit(embeddings)
    import faiss

    rng = np.random.default_rng(seed)
    train = embeddings if embeddings.shape[0] <= max_train else embeddings[
        np.sort(rng.choice(embeddings.shape[0], max_train, replace=False))]
    pca = faiss.PCAMatrix(embeddings.shape[1], pca_dim)
    pca.train(np.ascontiguousarray(train, dtype=np.float32))
    return _unit(pca.apply(np.ascontiguousarray(embeddings, dtype=np.float32)))


def default_topics(n: int) -> int:
    return int(min(256, max(2, round(np.sqrt(n)))))


def build_space(name: str, corpus_rows: np.ndarray, vecs: np.ndarray, n_topics: int | None = None,
                seed: int = 0, kmeans_iter: int = 20, points_per_topic: int = 64) -> FeedSpace:
    """Cluster one slice (``vecs`` are its projected vectors, ``corpus_rows`` their corpus rows)."""
    import faiss

    n, d = vecs.shape
    k = min(n_topics or default_topics(n), max(1, n // 2))
    if k > 1:
        km = faiss.Kmeans(d, k, niter=kmeans_iter, seed=seed, spherical=True, verbose=False,
                          max_points_per_centroid=points_per_topic, min_points_per_centroid=1)
        km.train(vecs)
        _, assign = km.index.search(vecs, 1)
        assign = assign[:, 0]
    else:
        assign = np.zeros(n, dtype=np.int64)
    used = np.unique(assign)                      # drop topics k-means left empty
    assign = np.searchsorted(used, assign)
    order = np.argsort(assign, kind="stable")
    sizes = np.bincount(assign, minlength=used.size)
    centroids = _unit(np.stack([vecs[assign == c].mean(0) for c in range(used.size)]))
    return FeedSpace(name=name, items=np.asarray(corpus_rows)[order], vecs=vecs[order], topic_of=assign[order],
                     offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                     centroid_sim=(centroids @ centroids.T).astype(np.float64))


def _norm_label(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def platform_rows(platforms: list[str] | None, labels: list[str]) -> np.ndarray | None:
    """Corpus rows whose platform label contains one of ``labels`` (normalised); None without labels."""
    if not platforms:
        return None
    keys = [_norm_label(label) for label in labels if _norm_label(label)]
    norm = [_norm_label(p) for p in platforms]
    if not any(norm):
        return None
    return np.asarray([i for i, p in enumerate(norm) if p and any(k in p for k in keys)], dtype=np.int64)


def choose_slice(platform: str, platforms: list[str] | None, labels: list[str], n_corpus: int, scrolls: int,
                 policy: str) -> tuple[np.ndarray, str]:
    """(corpus rows, description) of the pool a platform's feed draws from, per ``platform_slice`` policy."""
    everything = np.arange(n_corpus, dtype=np.int64)
    if policy == "off":
        return everything, "all"
    rows = platform_rows(platforms, labels)
    if rows is not None and rows.size >= scrolls:
        return rows, "platform"
    if policy == "require":
        why = "the corpus has no platform labels" if rows is None else f"only {rows.size} items carry its label"
        raise UsageError(f"platform_slice=require: no usable {platform} slice ({why}; need >= {scrolls} items, "
                         f"one per scroll)")
    return everything, "all"
