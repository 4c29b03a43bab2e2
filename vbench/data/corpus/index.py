"""faiss indexes over L2-normalised vectors: inner product search, reported as L2 distance.

On unit vectors ``||a - b||² = 2 - 2·a·b``, so ranking by inner product is ranking by L2 and the
distance the paper reports is ``sqrt(2 - 2·ip)``. Small corpora get an exact flat index; above a size
threshold an IVF (or HNSW) index keeps search fast at a small, measured recall cost.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Literal

import numpy as np

from vbench.errors import MissingDependencyError, UsageError

IndexKind = Literal["auto", "flat", "ivf", "hnsw"]
DEFAULT_THRESHOLD = 200_000
HNSW_M = 16


def faiss_module():
    try:
        import faiss
    except ImportError:
        raise MissingDependencyError("the screenshot corpus (faiss)", "build") from None
    return faiss


def resolve_kind(kind: str, n: int, threshold: int = DEFAULT_THRESHOLD) -> str:
    if kind not in ("auto", "flat", "ivf", "hnsw"):
        raise UsageError(f"unknown index type {kind!r} (auto, flat, ivf, hnsw)")
    if kind == "auto":
        return "flat" if n < threshold else "ivf"
    return kind


def ivf_nlist(n: int) -> int:
    """~sqrt(n) lists (faiss's rule of thumb), with at least 39 training points per list."""
    return max(1, min(int(math.sqrt(max(n, 1))), n // 39))


def build_index(embeddings: np.ndarray, kind: str = "auto", threshold: int = DEFAULT_THRESHOLD,
                chunk: int = 65_536, seed: int = 0) -> tuple[object, dict]:
    """Index ``embeddings`` (array or memmap, added chunk by chunk); returns (index, params for meta)."""
    n = embeddings.shape[0]
    return build_index_chunks(lambda: (embeddings[s:s + chunk] for s in range(0, n, chunk)), n,
                              embeddings.shape[1], kind, threshold, seed)


def build_index_chunks(chunks: Callable[[], Iterable[np.ndarray]], n: int, d: int, kind: str = "auto",
                       threshold: int = DEFAULT_THRESHOLD, seed: int = 0) -> tuple[object, dict]:
    """Index vectors given as a re-iterable sequence of [m, d] blocks (IVF reads it twice: sample, add).

    Only one block and the index itself are in memory at a time.
    """
    faiss = faiss_module()
    kind = resolve_kind(kind, n, threshold)
    params: dict = {"index_type": kind}
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.codes.resize(n * index.code_size)  # reserve the final size: adding blocks then never
        index.codes.resize(0)                    # reallocates (a growing buffer would peak at ~1.5x)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        params.update(hnsw_m=HNSW_M, ef_search=128)
    else:
        nlist = ivf_nlist(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10  # k-means iterations: enough for coarse lists, keeps training to seconds
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))
        sample, at = [], 0
        for block in chunks():
            m = len(block)
            sel = rows[(rows >= at) & (rows < at + m)] - at
            if sel.size:
                sample.append(np.asarray(block[sel], dtype=np.float32))
            at += m
        index.train(np.ascontiguousarray(np.concatenate(sample)))
        params.update(nlist=nlist, nprobe=max(1, min(nlist, 32)))
    for block in chunks():
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    configure(index, params)
    return index, params


def configure(index, params: dict) -> None:
    """Apply search-time parameters (nprobe, efSearch) recorded in meta.json."""
    faiss = faiss_module()
    if params.get("index_type") == "ivf":
        faiss.extract_index_ivf(index).nprobe = int(params.get("nprobe", 32))
    elif params.get("index_type") == "hnsw":
        index.hnsw.efSearch = int(params.get("ef_search", 128))


def ip_to_l2(ip: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(2.0 - 2.0 * ip, 0.0, None)).astype(np.float32)


def l2_to_ip(radius: float) -> float:
    return 1.0 - radius * radius / 2.0


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product → (L2 distances [Q, k], row ids [Q, k]); missing hits have id -1."""
    k = max(1, min(k, index.ntotal))
    ip, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return ip_to_l2(ip), ids
