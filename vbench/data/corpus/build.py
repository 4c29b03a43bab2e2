"""`build-corpus`: embed every image of a source with CLIP into a corpus folder, streamed and resumable.

Work happens in fixed row ranges ("shards") under ``CORPUS/.build/``: each shard's items (parquet,
image bytes included) and vectors (.npy) are written batch by batch, then committed by an atomic
manifest. An interrupted build re-run with the same settings redoes only uncommitted shards. The
final step streams the shards into ``items/``, ``embeddings.npy`` (memmap) and ``index.faiss`` and
writes ``meta.json`` last, so a corpus either is complete or is not a corpus. Unreadable images are
skipped and listed in ``skipped.json``.
"""
from __future__ import annotations

import io
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel

from vbench.data.corpus import store
from vbench.data.corpus.index import DEFAULT_THRESHOLD, build_index_chunks, faiss_module, resolve_kind
from vbench.data.corpus.source import Source, open_source
from vbench.errors import UsageError

log = logging.getLogger(__name__)
WORK = ".build"
SKIPPED = "skipped.json"
_OWNED = (store.ITEMS, store.EMBEDDINGS, store.INDEX, store.META, store.KEYWORDS, store.SPLIT, WORK, SKIPPED,
          "abundance.csv", "abundance.json", "abundance.png", "publish")


class BuildSettings(BaseModel):
    """What an interrupted build must share with its resumption."""

    source: str
    source_fingerprint: str
    n_source: int
    clip_model: str
    shard_size: int
    platform_from_folder: bool


class BuildReport(BaseModel):
    path: str
    n_source: int
    n_items: int
    n_skipped: int
    skipped: list[dict[str, Any]]
    embedded_now: int
    resumed_rows: int
    embed_seconds: float
    images_per_s: float | None
    index_type: str
    dim: int


def _arrow_schema():
    import pyarrow as pa

    s = pa.string()
    return pa.schema([("id", s), ("image", pa.struct([("bytes", pa.binary()), ("path", s)])),
                      ("platform", s), ("post_date", s), ("url", s), ("caption", s)])


def decode(img: dict) -> tuple[bytes, Any]:
    """(encoded bytes, RGB PIL image); raises on anything unreadable."""
    from PIL import Image

    data = img.get("bytes")
    if data is None:
        if not img.get("path"):
            raise ValueError("image has neither bytes nor path")
        data = Path(img["path"]).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return data, im.convert("RGB")


def _prepare_out(out: Path, overwrite: bool) -> None:
    if (out / store.META).exists() and not overwrite:
        raise UsageError(f"{out} already holds a built corpus; pass --overwrite to rebuild it")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file")
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if p.name not in _OWNED]
        if foreign:
            raise UsageError(f"--out {out} is not empty and not a corpus folder (holds {foreign[0]!r}); choose a new folder")
        if overwrite:
            for name in _OWNED:
                p = out / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)


def _check_settings(work: Path, settings: BuildSettings) -> None:
    f = work / "config.json"
    if f.exists():
        old = BuildSettings.model_validate_json(f.read_text(encoding="utf-8"))
        if old != settings:
            diff = next(k for k in BuildSettings.model_fields if getattr(old, k) != getattr(settings, k))
            raise UsageError(f"{work.parent} holds an interrupted build with a different {diff} "
                             f"({getattr(old, diff)!r}); re-run with the same settings to resume, or --overwrite")
        return
    work.mkdir(parents=True, exist_ok=True)
    store.atomic_write_json(f, settings.model_dump())


def _embed_batch(embedder, rows: list[dict], skipped: list[dict]) -> tuple[list[dict], np.ndarray | None]:
    """Decode and embed one batch; unreadable images go to ``skipped``; a failing batch is retried per image."""
    good, images = [], []
    for row in rows:
        try:
            data, im = decode(row["image"])
        except Exception as exc:  # any decoder failure is a skipped item, never a failed build
            skipped.append({"row": row["row"], "id": row["id"], "source": row["image"].get("path"),
                            "reason": f"{exc.__class__.__name__}: {str(exc)[:200]}"})
            continue
        good.append({**row, "image": {"bytes": data, "path": row["id"].rsplit("/", 1)[-1]}})
        images.append(im)
    if not good:
        return [], None
    try:
        return good, embedder.embed_images(images)
    except Exception:
        keep, vecs = [], []
        for row, im in zip(good, images):
            try:
                vecs.append(embedder.embed_images([im]))
                keep.append(row)
            except Exception as exc:
                skipped.append({"row": row["row"], "id": row["id"], "source": None,
                                "reason": f"embedding failed: {exc.__class__.__name__}: {str(exc)[:200]}"})
        return keep, (np.concatenate(vecs) if vecs else None)


def _run_shard(src: Source, embedder, work: Path, shard: int, start: int, end: int, batch_size: int,
               tick: Callable[[int], object]) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    skipped: list[dict] = []
    vectors: list[np.ndarray] = []
    kept = 0
    with pq.ParquetWriter(work / f"shard-{shard:05d}.parquet", schema) as writer:
        for b in range(start, end, batch_size):
            rows, vecs = _embed_batch(embedder, src.rows(b, min(end, b + batch_size)), skipped)
            if vecs is not None:  # some rows were kept
                writer.write_table(pa.Table.from_pylist(
                    [{c: r[c] for c in store.ITEM_COLUMNS} for r in rows], schema=schema))
                vectors.append(vecs)
                kept += len(rows)
            tick(min(end, b + batch_size) - b)
    dim = embedder.dim
    np.save(work / f"shard-{shard:05d}.npy", np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32))
    manifest = {"shard": shard, "start": start, "end": end, "n_kept": kept, "dim": dim, "skipped": skipped}
    store.atomic_write_json(work / f"shard-{shard:05d}.json", manifest)
    return manifest


def build_corpus(source: str, out: str | Path, *, clip_model: str | None = None, embedder=None,
                 batch_size: int = 64, shard_size: int = 4096, device: str = "auto", index: str = "auto",
                 index_threshold: int = DEFAULT_THRESHOLD, id_column: str | None = None, limit: int | None = None,
                 platform_from_folder: bool = False, overwrite: bool = False, progress: bool = True) -> BuildReport:
    """Embed ``source`` (image folder, saved/Hub/parquet dataset) into the corpus folder ``out``."""
    from vbench.data.corpus.clip import DEFAULT_CLIP, ClipEmbedder
    from vbench.data.schwartz import load_schwartz

    if batch_size < 1 or shard_size < 1:
        raise UsageError("--batch-size and --shard-size must be positive")
    out = Path(out).expanduser()
    resolve_kind(index, 0, index_threshold)
    _prepare_out(out, overwrite)
    src = open_source(source, id_column=id_column, platform_from_folder=platform_from_folder, limit=limit)
    clip_model = clip_model or (embedder.model_id if embedder is not None else DEFAULT_CLIP)
    if Path(clip_model).expanduser().is_dir():  # a local model: recorded absolute so build-split finds it anywhere
        clip_model = str(Path(clip_model).expanduser().resolve())
    embedder = embedder or ClipEmbedder(clip_model, device=device)
    work = out / WORK
    _check_settings(work, BuildSettings(source=source, source_fingerprint=src.fingerprint(), n_source=src.n,
                                        clip_model=clip_model, shard_size=shard_size,
                                        platform_from_folder=platform_from_folder))
    ranges = [(s, a, min(src.n, a + shard_size)) for s, a in enumerate(range(0, src.n, shard_size))]
    done = {s for s, _, _ in ranges if (work / f"shard-{s:05d}.json").exists()}
    resumed = sum(b - a for s, a, b in ranges if s in done)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=src.n, initial=resumed, unit="img", desc="embedding", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        for s, a, b in ranges:
            if s not in done:
                _run_shard(src, embedder, work, s, a, b, batch_size, bar.update if bar else (lambda _n: None))
    finally:
        if bar:
            bar.close()
    seconds = time.perf_counter() - t0
    manifests = [json.loads((work / f"shard-{s:05d}.json").read_text(encoding="utf-8")) for s, _, _ in ranges]
    params = _finalize(out, work, manifests, clip_model, index, index_threshold, source, load_schwartz().version)
    skipped = [x for m in manifests for x in m["skipped"]]
    now = src.n - resumed
    return BuildReport(path=str(out), n_source=src.n, n_items=sum(m["n_kept"] for m in manifests),
                       n_skipped=len(skipped), skipped=skipped[:50], embedded_now=now, resumed_rows=resumed,
                       embed_seconds=round(seconds, 3), images_per_s=round(now / seconds, 1) if now and seconds else None,
                       index_type=params["index_type"], dim=manifests[0]["dim"])


def _finalize(out: Path, work: Path, manifests: list[dict], clip_model: str, index: str, threshold: int,
              source: str, schwartz_version: str) -> dict:
    """Stream the committed shards into the final layout; meta.json is written last."""
    import datasets

    n = sum(m["n_kept"] for m in manifests)
    skipped = [x for m in manifests for x in m["skipped"]]
    if n == 0:
        first = skipped[0]["reason"] if skipped else "no rows"
        raise UsageError(f"none of the {len(skipped)} images could be read (first: {first}); see {work}")
    dim = manifests[0]["dim"]

    def shards():  # one shard's vectors in memory at a time (plain reads: no mapped pages pile up)
        for m in manifests:
            yield np.load(work / f"shard-{m['shard']:05d}.npy")

    with open(work / store.EMBEDDINGS, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                  "fortran_order": False, "shape": (n, dim)})
        for part in shards():
            fh.write(np.ascontiguousarray(part, dtype=np.float32).tobytes())
    datasets.disable_progress_bars()
    files = [str(work / f"shard-{m['shard']:05d}.parquet") for m in manifests if m["n_kept"]]
    items = datasets.Dataset.from_parquet(files, features=store.item_features(), cache_dir=str(work / "hf-cache"))
    shutil.rmtree(work / store.ITEMS, ignore_errors=True)
    items.save_to_disk(str(work / store.ITEMS))
    del items
    index_obj, params = build_index_chunks(shards, n, dim, index, threshold)
    faiss_module().write_index(index_obj, str(work / store.INDEX))
    del index_obj
    for name in (store.ITEMS, store.EMBEDDINGS, store.INDEX):
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        (work / name).rename(target)
    store.atomic_write_json(out / SKIPPED, {"n_skipped": len(skipped), "skipped": skipped})
    provenance: dict[str, Any] = {"source": source, "n_source": sum(m["end"] - m["start"] for m in manifests),
                                  "n_skipped": len(skipped)}  # extra keys: CorpusMeta keeps what it is given
    meta = store.CorpusMeta(clip_model=clip_model, dim=dim, n=n, index_type=params["index_type"],
                            schwartz_version=schwartz_version, index_params=params, **provenance)
    store.atomic_write_json(out / store.META, meta.model_dump(mode="json"))
    shutil.rmtree(work, ignore_errors=True)
    return params
