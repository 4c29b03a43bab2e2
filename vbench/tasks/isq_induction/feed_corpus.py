"""Reader for a value_spectrum corpus folder, the feed's item pool.

Layout (the corpus contract shared with the value_spectrum builder)::

    CORPUS/items/          HF dataset (save_to_disk): id, image, platform, post_date, url, caption
    CORPUS/embeddings.npy  float32 [N, D], L2-normalised, row i <-> items row i
    CORPUS/index.faiss     faiss inner-product index over the embeddings (not needed by the feed)
    CORPUS/meta.json       {"clip_model", "dim", "n", "index_type", "schwartz_version"}
    CORPUS/keywords.npz    values [K], keywords [K], vectors float32 [K, D]

Each item's Schwartz value is the value of its nearest keyword vector (inner product), which is what
the alignment metric compares with a persona's target values. Everything is checked on load so a bad
corpus stops the run before any model call.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vbench.errors import UsageError
from vbench.tasks.isq_induction.schwartz import VALUES, canonical_value

LAYOUT_HINT = "a corpus folder holds items/, embeddings.npy, meta.json and keywords.npz (index.faiss optional)"


@dataclass
class FeedCorpus:
    path: Path
    items: Any                    # datasets.Dataset, images left undecoded
    ids: list[str]
    embeddings: np.ndarray        # float32 [N, D], unit rows
    values: np.ndarray            # int [N]: index into VALUES of each item's nearest keyword's value
    platforms: list[str] | None   # raw platform label per item, when the corpus has them
    meta: dict[str, Any]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> Any:
        """The undecoded image value (``{"bytes", "path"}``) of item ``i``."""
        return self.items[int(i)]["image"]


def _load_embeddings(path: Path) -> np.ndarray:
    f = path / "embeddings.npy"
    if not f.is_file():
        raise UsageError(f"corpus {path} has no embeddings.npy: the feed needs image embeddings ({LAYOUT_HINT})")
    try:
        emb = np.load(f, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{f} cannot be read as a numpy array ({exc})") from None
    if emb.ndim != 2 or emb.shape[0] == 0 or emb.shape[1] == 0 or not np.issubdtype(emb.dtype, np.floating):
        raise UsageError(f"{f} must be a float array [N, D]; got shape {emb.shape} dtype {emb.dtype}")
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if not np.isfinite(emb).all():
        raise UsageError(f"{f} holds NaN or infinite values")
    norms = np.linalg.norm(emb, axis=1)
    if (norms < 1e-6).any():
        raise UsageError(f"{f} row {int(np.argmin(norms))} is all zeros (no embedding)")
    if np.abs(norms - 1).max() > 1e-3:  # contract says unit rows; tolerate and fix rather than mis-score
        emb /= norms[:, None]
    return emb


def _item_values(path: Path, emb: np.ndarray, items) -> np.ndarray:
    kw = path / "keywords.npz"
    if kw.is_file():
        with np.load(kw, allow_pickle=False) as z:
            if "values" not in z or "vectors" not in z:
                raise UsageError(f"{kw} must hold arrays 'values' and 'vectors'")
            names, vectors = [str(v) for v in z["values"]], np.asarray(z["vectors"], dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(names), emb.shape[1]):
            raise UsageError(f"{kw}: vectors must be [K={len(names)}, D={emb.shape[1]}], got {vectors.shape}")
        idx = []
        for n in names:
            canon = canonical_value(n)
            if canon is None:
                raise UsageError(f"{kw}: {n!r} is not a Schwartz value (known: {', '.join(VALUES)})")
            idx.append(VALUES.index(canon))
        return np.asarray(idx, dtype=np.int64)[np.argmax(emb @ vectors.T, axis=1)]
    if "value" in items.column_names:
        out = [canonical_value(v) for v in items["value"]]
        if None in out:
            raise UsageError(f"corpus {path}: items column 'value' has a non-Schwartz value at row {out.index(None)}")
        return np.asarray([VALUES.index(v) for v in out], dtype=np.int64)
    raise UsageError(f"corpus {path} has no keywords.npz (nor an items 'value' column): items cannot be tagged "
                     f"with Schwartz values for the alignment metric ({LAYOUT_HINT})")


def _fingerprint(path: Path, emb: np.ndarray, ids: list[str]) -> str:
    h = hashlib.sha256()
    for name in ("meta.json", "keywords.npz"):
        if (path / name).is_file():
            h.update((path / name).read_bytes())
    h.update(emb.tobytes())
    h.update("\n".join(ids).encode())
    return h.hexdigest()[:16]


def load_feed_corpus(spec: str | Path) -> FeedCorpus:
    """Load and validate a corpus folder (UsageError with the reason on anything unusable)."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise UsageError(f"corpus folder not found: {spec} ({LAYOUT_HINT})")
    emb = _load_embeddings(path)
    if not (path / "items").is_dir():
        raise UsageError(f"corpus {path} has no items/ dataset ({LAYOUT_HINT})")
    from vbench.data.loading import load_rows, require_columns

    items = load_rows(str(path / "items"))
    require_columns(items, str(path / "items"), ["id", "image"])
    if len(items) != emb.shape[0]:
        raise UsageError(f"corpus {path}: {len(items)} items but {emb.shape[0]} embedding rows")
    meta: dict[str, Any] = {}
    if (path / "meta.json").is_file():
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UsageError(f"{path / 'meta.json'} is not valid JSON ({exc})") from None
        for key, actual in (("n", emb.shape[0]), ("dim", emb.shape[1])):
            if key in meta and int(meta[key]) != actual:
                raise UsageError(f"corpus {path}: meta.json says {key}={meta[key]} but embeddings.npy has {actual}")
    ids = [str(i) for i in items["id"]]
    platforms = [str(p or "") for p in items["platform"]] if "platform" in items.column_names else None
    values = _item_values(path, emb, items)
    return FeedCorpus(path=path, items=items, ids=ids, embeddings=emb, values=values, platforms=platforms,
                      meta=meta, fingerprint=_fingerprint(path, emb, ids))
