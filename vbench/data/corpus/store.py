"""The on-disk screenshot corpus and how to open it (the layout other tasks build on).

A corpus folder holds:
  items/          HF dataset (save_to_disk): id, image, platform, post_date, url, caption
  embeddings.npy  float32 [N, D], L2-normalised, row i ↔ items row i (opened as a memmap)
  index.faiss     faiss inner-product index over the embeddings (L2 = sqrt(2 - 2·ip))
  meta.json       {"clip_model", "dim", "n", "index_type", "schwartz_version", ...}; written last
  keywords.npz    after build-split: values [K], keywords [K], vectors float32 [K, D]
  split/          after build-split: the evaluation split (HF dataset)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vbench.data.corpus.index import build_index, configure, faiss_module
from vbench.errors import UsageError

ITEMS, EMBEDDINGS, INDEX, META, KEYWORDS, SPLIT = "items", "embeddings.npy", "index.faiss", "meta.json", "keywords.npz", "split"
ITEM_COLUMNS = ("id", "image", "platform", "post_date", "url", "caption")


def item_features():
    import datasets

    s = datasets.Value("string")
    return datasets.Features({"id": s, "image": datasets.Image(), "platform": s, "post_date": s, "url": s, "caption": s})


class CorpusMeta(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())
    clip_model: str
    dim: int = Field(ge=1)
    n: int = Field(ge=0)
    index_type: str
    schwartz_version: str | None = None
    index_params: dict[str, Any] = Field(default_factory=dict)


@dataclass
class KeywordTable:
    """Keyword text vectors (same CLIP as the images), one row per (value, keyword)."""

    values: np.ndarray    # str [K]
    keywords: np.ndarray  # str [K]
    vectors: np.ndarray   # float32 [K, D], L2-normalised

    @property
    def value_names(self) -> list[str]:
        """Values in order of first appearance (the value set's order)."""
        return list(dict.fromkeys(self.values.tolist()))

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.savez(fh, values=np.asarray(self.values, dtype=str), keywords=np.asarray(self.keywords, dtype=str),
                     vectors=np.asarray(self.vectors, dtype=np.float32))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "KeywordTable":
        with np.load(path, allow_pickle=False) as z:
            return cls(values=z["values"], keywords=z["keywords"], vectors=z["vectors"].astype(np.float32))


@dataclass
class Corpus:
    path: Path
    items: Any                 # datasets.Dataset (memory-mapped)
    embeddings: np.ndarray     # memmap float32 [N, D]
    index: Any                 # faiss.Index
    meta: CorpusMeta
    keywords: KeywordTable | None = None

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


def atomic_write_json(path: Path, data: dict) -> None:
    from vbench.results import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_meta(path: Path) -> CorpusMeta:
    f = Path(path) / META
    if not f.is_file():
        raise UsageError(f"{path} is not a built corpus (no {META}); build one with `vbench data build-corpus`")
    try:
        return CorpusMeta.model_validate_json(f.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{f}: not a valid corpus meta file ({str(exc).splitlines()[0]})") from None


def load_corpus(path: str | Path, load_index: bool = True) -> Corpus:
    """Open a built corpus (memory-mapped; nothing large is read into RAM but the faiss index)."""
    import datasets

    p = Path(path).expanduser()
    meta = read_meta(p)
    for name in (ITEMS, EMBEDDINGS) + ((INDEX,) if load_index else ()):
        if not (p / name).exists():
            raise UsageError(f"corpus {p} is incomplete: {name} is missing (rebuild with --overwrite)")
    datasets.disable_progress_bars()
    items = datasets.load_from_disk(str(p / ITEMS))
    emb = np.load(p / EMBEDDINGS, mmap_mode="r")
    if emb.ndim != 2 or emb.shape != (meta.n, meta.dim) or len(items) != meta.n:
        raise UsageError(f"corpus {p} is inconsistent: meta says {meta.n}x{meta.dim}, embeddings {emb.shape}, "
                         f"items {len(items)} (rebuild with --overwrite)")
    index = None
    if load_index:
        index = faiss_module().read_index(str(p / INDEX))
        if index.ntotal != meta.n:
            raise UsageError(f"corpus {p}: index has {index.ntotal} vectors, meta says {meta.n}")
        configure(index, meta.index_params or {"index_type": meta.index_type})
    kw = KeywordTable.load(p / KEYWORDS) if (p / KEYWORDS).exists() else None
    return Corpus(path=p, items=items, embeddings=emb, index=index, meta=meta, keywords=kw)


def value_similarity(embeddings: np.ndarray, table: KeywordTable) -> tuple[list[str], np.ndarray]:
    """Per row and value, the max cosine similarity to that value's keyword vectors → (names, [n, V])."""
    names = table.value_names
    sims = np.asarray(embeddings, dtype=np.float32) @ table.vectors.T
    out = np.empty((sims.shape[0], len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        out[:, j] = sims[:, table.values == name].max(axis=1)
    return names, out


def item_values(corpus: Corpus, chunk: int = 65_536) -> np.ndarray:
    """Each item's nearest value (max similarity to the value's keyword vectors), as str [N]."""
    if corpus.keywords is None:
        raise UsageError(f"corpus {corpus.path} has no {KEYWORDS}; run `vbench data build-split --corpus {corpus.path}`")
    names = np.array(corpus.keywords.value_names, dtype=str)
    out = np.empty(corpus.n, dtype=names.dtype)
    for start in range(0, corpus.n, chunk):
        _, sims = value_similarity(corpus.embeddings[start:start + chunk], corpus.keywords)
        out[start:start + chunk] = names[sims.argmax(axis=1)]
    return out


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def write_corpus(path: str | Path, rows: Iterable[dict], embeddings: np.ndarray, *, clip_model: str,
                 index: str = "auto", keywords: KeywordTable | None = None,
                 schwartz_version: str | None = None, **extra_meta: Any) -> Path:
    """Write a small corpus from in-memory rows (tests, fixtures, hand-made corpora); meta.json last.

    ``rows``: dicts with ``id`` and ``image`` (path, bytes, PIL or datasets image dict) and optional
    platform/post_date/url/caption. Large corpora go through ``build_corpus`` (streamed) instead.
    """
    import datasets

    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    table: dict[str, list[Any]] = {c: [] for c in ITEM_COLUMNS}
    for row in rows:
        for c in ITEM_COLUMNS:
            v = row.get(c)
            table[c].append(v if c == "image" or v is None else str(v))
    emb = normalise(embeddings)
    if emb.shape[0] != len(table["id"]):
        raise ValueError(f"{len(table['id'])} rows but {emb.shape[0]} embeddings")
    datasets.Dataset.from_dict(table, features=item_features()).save_to_disk(str(p / ITEMS))
    np.save(p / EMBEDDINGS, emb)
    idx, params = build_index(emb, index)
    faiss_module().write_index(idx, str(p / INDEX))
    if keywords is not None:
        keywords.save(p / KEYWORDS)
    meta = CorpusMeta(clip_model=clip_model, dim=emb.shape[1], n=emb.shape[0], index_type=params["index_type"],
                      schwartz_version=schwartz_version, index_params=params, **extra_meta)
    atomic_write_json(p / META, meta.model_dump(mode="json"))
    return p
