"""The feed's item pool: a value_spectrum corpus opened through the shared store.

``vbench.data.corpus.store.load_corpus`` checks the layout (items/, embeddings.npy, meta.json;
keywords.npz for item values; index.faiss is not needed here) and ``item_values`` tags every item
with the value of its nearest keyword vector, which is what the alignment metric compares with a
persona's target values. This module adds what a feed needs on top: embeddings in RAM and sane
(finite, non-zero, unit rows), values as indices into VALUES, platform labels and a fingerprint.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vbench.errors import UsageError
from vbench.tasks.isq_induction.schwartz import VALUES, canonical_value

LAYOUT_HINT = "a corpus folder holds items/, embeddings.npy, meta.json and keywords.npz (`vbench data build-corpus`)"


@dataclass
class FeedCorpus:
    path: Path
    items: Any                    # datasets.Dataset
    ids: list[str]
    embeddings: np.ndarray        # float32 [N, D], unit rows, in RAM
    values: np.ndarray            # int [N]: index into VALUES of each item's nearest keyword's value
    platforms: list[str] | None   # raw platform label per item, when the corpus has them
    fingerprint: str

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> Any:
        """The undecoded image value (``{"bytes", "path"}``) of item ``i``."""
        return self.items[int(i)]["image"]


def _checked_embeddings(emb: np.ndarray, where: Path) -> np.ndarray:
    emb = np.array(emb, dtype=np.float32, order="C", copy=True)  # out of the read-only memmap, into RAM
    if emb.shape[0] == 0:
        raise UsageError(f"corpus {where} has no items")
    if not np.isfinite(emb).all():
        raise UsageError(f"corpus {where}: embeddings.npy holds NaN or infinite values")
    norms = np.linalg.norm(emb, axis=1)
    if (norms < 1e-6).any():
        raise UsageError(f"corpus {where}: embeddings.npy row {int(np.argmin(norms))} is all zeros (no embedding)")
    if np.abs(norms - 1).max() > 1e-3:  # the layout promises unit rows; fix rather than mis-score
        emb /= norms[:, None]
    return emb


def load_feed_corpus(spec: str | Path) -> FeedCorpus:
    """Open and validate a corpus folder (UsageError with the reason on anything unusable)."""
    import datasets

    from vbench.data.corpus.store import item_values, load_corpus

    path = Path(spec).expanduser()
    if not path.is_dir():
        raise UsageError(f"corpus folder not found: {spec} ({LAYOUT_HINT})")
    if not (path / "embeddings.npy").is_file():
        raise UsageError(f"corpus {path} has no embeddings.npy: the feed needs image embeddings ({LAYOUT_HINT})")
    corpus = load_corpus(path, load_index=False)
    names = item_values(corpus)
    keywords = corpus.keywords
    assert keywords is not None  # item_values refuses a corpus without keywords.npz
    lookup = {}
    for name in np.unique(names):
        canon = canonical_value(str(name))
        if canon is None:
            raise UsageError(f"corpus {path}: keywords.npz value {str(name)!r} is not a Schwartz value "
                             f"(known: {', '.join(VALUES)})")
        lookup[str(name)] = VALUES.index(canon)
    emb = _checked_embeddings(corpus.embeddings, path)
    ids = [str(i) for i in corpus.items["id"]]
    platforms = [str(p or "") for p in corpus.items["platform"]] if "platform" in corpus.items.column_names else None
    h = hashlib.sha256(corpus.meta.model_dump_json().encode())
    for arr in (keywords.values, keywords.keywords, keywords.vectors, emb):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("\n".join(ids).encode())
    items = corpus.items
    if isinstance(items.features.get("image"), datasets.Image):  # keep the stored bytes: hashed as they are
        items = items.cast_column("image", datasets.Image(decode=False))
    return FeedCorpus(path=path, items=items, ids=ids, embeddings=emb,
                      values=np.array([lookup[str(n)] for n in names], dtype=np.int64), platforms=platforms,
                      fingerprint=h.hexdigest()[:16])
