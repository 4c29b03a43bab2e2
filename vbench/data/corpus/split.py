"""`build-split`: keywords → CLIP text vectors → top-k screenshots per keyword → the evaluation split.

For every keyword of every value the ``top_k`` nearest corpus items (L2 on unit vectors, distance
recorded) are taken; an item (or a byte-identical image) serves one value only (``reuse``: once per
value), the next nearest filling in. The split is an HF dataset (save_to_disk) in ``CORPUS/split``; keyword vectors go
to ``keywords.npz``; the corpus abundance per value to ``abundance.{json,csv,png}``.
"""
from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel

from vbench.data.corpus import store
from vbench.data.corpus.abundance import abundance, write_abundance
from vbench.data.corpus.index import search
from vbench.data.schwartz import SchwartzSet, load_schwartz
from vbench.errors import UsageError

SPLIT_COLUMNS = ("value", "keyword", "rank", "distance", "platform", "corpus_id", "image", "post_date", "url", "caption")


def split_features():
    import datasets

    s = datasets.Value("string")
    return datasets.Features({"value": s, "keyword": s, "rank": datasets.Value("int32"),
                              "distance": datasets.Value("float32"), "platform": s, "corpus_id": s,
                              "image": datasets.Image(), "post_date": s, "url": s, "caption": s})


class SplitReport(BaseModel):
    path: str
    n_rows: int
    per_value: dict[str, int]
    short_keywords: list[str]
    schwartz_version: str
    top_k: int
    reuse: bool = False
    reused_items: int = 0
    abundance: dict[str, int]
    files: list[str]


def embed_keywords(embedder, values: SchwartzSet, template: str = "{keyword}") -> store.KeywordTable:
    if "{keyword}" not in template:
        raise UsageError("--text-template must contain {keyword}")
    rows = values.keyword_rows()
    vecs = embedder.embed_texts([template.format(keyword=k) for _, k in rows])
    return store.KeywordTable(values=np.array([v for v, _ in rows], dtype=str),
                              keywords=np.array([k for _, k in rows], dtype=str), vectors=store.normalise(vecs))


def retrieve(index, table: store.KeywordTable, top_k: int = 5,
             content_key: Callable[[int], Any] | None = None, reuse: bool = False) -> list[dict]:
    """Top-k items per keyword; by default every item (and byte-identical image) serves one value only.

    Keywords take turns, one item per round, values interleaved (the first keyword of every value, then
    the second...; rank 1 for every keyword, then rank 2...), each its nearest item not yet used, so no
    value claims the shared neighbours first. With
    ``reuse`` an item is only unique within a value and may serve several values (reported by
    ``reused_rows``). Returns rows {value, keyword, rank (1-based), distance (L2), row} in
    value/keyword/rank order. A keyword whose neighbourhood is used up is searched deeper, until the
    corpus is exhausted.
    """
    if top_k < 1:
        raise UsageError("--top-k must be positive")
    n = index.ntotal
    depth = min(n, top_k * len(table.keywords) + top_k)
    dist, ids = search(index, table.vectors, depth)
    rows_by_kw = [[dist[k], ids[k], depth, 0] for k in range(len(table.keywords))]  # distances, ids, depth, next
    used: dict[Any, set] = {}
    found: list[list[dict]] = [[] for _ in table.keywords]
    order = {v: i for i, v in enumerate(table.value_names)}
    position = {k: int((table.values[:k] == table.values[k]).sum()) for k in range(len(table.keywords))}
    active = sorted(range(len(table.keywords)), key=lambda k: (position[k], order[str(table.values[k])]))
    while active:
        still = []
        for k in active:
            scope = used.setdefault(str(table.values[k]) if reuse else None, set())
            hit = _next_unused(index, table, k, rows_by_kw[k], scope, content_key, n)
            if hit is None:
                continue
            found[k].append({"value": str(table.values[k]), "keyword": str(table.keywords[k]),
                             "rank": len(found[k]) + 1, "distance": hit[1], "row": hit[0]})
            if len(found[k]) < top_k:
                still.append(k)
        active = still
    ks = sorted(range(len(table.keywords)), key=lambda k: (order[str(table.values[k])], k))
    return [h for k in ks for h in found[k]]


def _next_unused(index, table: store.KeywordTable, k: int, state: list, scope: set,
                 content_key: Callable[[int], Any] | None, n: int) -> tuple[int, float] | None:
    """Keyword k's nearest item not in ``scope`` (rows and content keys), searching deeper as needed."""
    while True:
        d_row, i_row, cur_depth, pos = state
        if pos >= len(i_row):
            if cur_depth >= n:
                return None
            state[2] = min(n, cur_depth * 4)
            state[0], state[1] = (a[0] for a in search(index, table.vectors[k:k + 1], state[2]))
            continue
        state[3] = pos + 1
        row = int(i_row[pos])
        if row < 0 or ("row", row) in scope:
            continue
        key = content_key(row) if content_key else None
        if key is not None and ("key", key) in scope:
            continue
        scope.add(("row", row))
        if key is not None:
            scope.add(("key", key))
        return row, float(d_row[pos])


def reused_rows(hits: list[dict]) -> int:
    """Items that serve more than one value in a split."""
    values: dict[int, set[str]] = {}
    for h in hits:
        values.setdefault(h["row"], set()).add(h["value"])
    return sum(len(v) > 1 for v in values.values())


def build_split(corpus_path: str | Path, *, top_k: int = 5, values_file: str | Path | None = None,
                radius: float = 1.5, text_template: str = "{keyword}", embedder=None, clip_model: str | None = None,
                device: str = "auto", reuse: bool = False) -> SplitReport:
    import datasets

    from vbench.data.corpus.clip import ClipEmbedder

    if radius <= 0:
        raise UsageError("--radius must be positive")
    if top_k < 1:
        raise UsageError("--top-k must be positive")
    corpus = store.load_corpus(corpus_path)
    values = load_schwartz(values_file)
    if embedder is None:
        embedder = ClipEmbedder(clip_model or corpus.meta.clip_model, device=device)
    table = embed_keywords(embedder, values, text_template)
    if table.vectors.shape[1] != corpus.dim:
        raise UsageError(f"the text model gives {table.vectors.shape[1]}-d vectors but the corpus is {corpus.dim}-d; "
                         f"use the corpus's CLIP ({corpus.meta.clip_model})")
    raw = corpus.items.cast_column("image", datasets.Image(decode=False))

    def image_key(row: int) -> str:
        img = raw[row]["image"]
        data = img.get("bytes") or (Path(img["path"]).read_bytes() if img.get("path") else b"")
        return hashlib.sha256(data).hexdigest()

    hits = retrieve(corpus.index, table, top_k, content_key=image_key, reuse=reuse)
    cols: dict[str, list] = {c: [] for c in SPLIT_COLUMNS}
    for h in hits:
        item = raw[h["row"]]
        for c in ("value", "keyword", "rank", "distance"):
            cols[c].append(h[c])
        cols["corpus_id"].append(item["id"])
        for c in ("platform", "post_date", "url", "caption", "image"):
            cols[c].append(item[c])
    out = corpus.path
    tmp = out / ".split.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.Dataset.from_dict(cols, features=split_features()).save_to_disk(str(tmp))
    table.save(out / store.KEYWORDS)
    shutil.rmtree(out / store.SPLIT, ignore_errors=True)
    tmp.rename(out / store.SPLIT)
    ab = abundance(corpus.embeddings, table, radius)
    files = [store.KEYWORDS, store.SPLIT, *write_abundance(ab, out)]
    per_value = {v: sum(1 for h in hits if h["value"] == v) for v in table.value_names}
    per_keyword = Counter((h["value"], h["keyword"]) for h in hits)
    short = [f"{v}/{k}" for v, k in zip(table.values.tolist(), table.keywords.tolist()) if per_keyword[(v, k)] < top_k]
    meta = corpus.meta.model_dump(mode="json")
    meta.update(schwartz_version=values.version,
                split={"top_k": top_k, "text_template": text_template, "radius": radius, "n_rows": len(hits),
                       "reuse": reuse, "reused_items": reused_rows(hits),
                       "values_file": str(values_file) if values_file else None,
                       "text_model": getattr(embedder, "model_id", None)})
    store.atomic_write_json(out / store.META, meta)
    return SplitReport(path=str(out / store.SPLIT), n_rows=len(hits), per_value=per_value, short_keywords=short,
                       schwartz_version=values.version, top_k=top_k, reuse=reuse, reused_items=reused_rows(hits),
                       abundance=ab["values"], files=files)
