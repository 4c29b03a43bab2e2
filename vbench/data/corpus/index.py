"""faiss indexes over L2-normalised vectors: inner product search, reported as L2 distance.

On unit vectors ``||a - b||² = 2 - 2·a·b``, so ranking by inner product is ranking by L2 and the
distance the paper reports is ``sqrt(2 - 2·ip)``. Small corpora get an exact flat index; above a size
threshold an IVF (or HNSW) index keeps search fast at a small, measured recall cost.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from vbench.errors import MissingDependencyError, UsageError

IndexKind = Literal["auto", "flat", "ivf", "hnsw"]
DEFAULT_THRESHOLD = 200_000
HNSW_M = 32


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
    """~4·sqrt(n) lists, with at least 39 training points per list (faiss's minimum)."""
    return max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39))


def build_index(embeddings: np.ndarray, kind: str = "auto", threshold: int = DEFAULT_THRESHOLD,
                chunk: int = 65_536, seed: int = 0) -> tuple[object, dict]:
    """Index ``embeddings`` (array or memmap, added chunk by chunk); returns (index, params for meta)."""
    faiss = faiss_module()
    n, d = embeddings.shape
    kind = resolve_kind(kind, n, threshold)
    params: dict = {"index_type": kind}
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        params.update(hnsw_m=HNSW_M, ef_search=128)
    else:
        nlist = ivf_nlist(n)
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        n_train = min(n, max(256 * nlist, 10_000))
        rows = np.sort(rng.choice(n, size=n_train, replace=False))
        index.train(np.ascontiguousarray(embeddings[rows], dtype=np.float32))
        params.update(nlist=nlist, nprobe=max(1, min(nlist, 32)))
    for start in range(0, n, chunk):
        index.add(np.ascontiguousarray(embeddings[start:start + chunk], dtype=np.float32))
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
