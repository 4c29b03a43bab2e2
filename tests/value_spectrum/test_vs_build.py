"""build-corpus: streamed CLIP embedding, corrupt images skipped and reported, resume after interruption."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from vbench.data.corpus.build import build_corpus, decode
from vbench.data.corpus.store import load_corpus
from vbench.errors import UsageError


class Interrupting:
    """Wraps an embedder; raises KeyboardInterrupt on the n-th image batch (like Ctrl-C mid-build)."""

    def __init__(self, inner, fail_at: int | None = None):
        self.inner, self.fail_at, self.calls, self.images = inner, fail_at, 0, 0
        self.model_id, self.dim = inner.model_id, inner.dim

    def embed_images(self, images):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt
        self.images += len(images)
        return self.inner.embed_images(images)

    def embed_texts(self, texts):
        return self.inner.embed_texts(texts)


def test_build_corpus_layout_and_corrupt_images(built_corpus, shots, embedder):
    c = load_corpus(built_corpus)
    assert c.n == 40 and c.dim == embedder.dim and c.meta.clip_model == embedder.model_id
    assert c.meta.n_source == 42 and c.meta.n_skipped == 2
    skipped = json.loads((built_corpus / "skipped.json").read_text())
    assert sorted(s["id"] for s in skipped["skipped"]) == ["zz_garbage.png", "zz_truncated.png"]
    assert all(s["reason"] for s in skipped["skipped"])
    ids = c.items["id"]
    assert len(set(ids)) == 40 and "zz_garbage.png" not in ids
    # row i of embeddings is item i: re-embed two items from their source files and compare
    meta = {json.loads(line)["file_name"]: json.loads(line) for line in (shots / "metadata.jsonl").read_text().splitlines()}
    for i in (0, 27):
        item = c.items[i]
        want = embedder.embed_images([Image.open(shots / item["id"]).convert("RGB")])[0]
        assert np.allclose(c.embeddings[i], want, atol=1e-4)
        assert item["platform"] == meta[item["id"]]["platform"]
        assert item["post_date"] == meta[item["id"]]["post_date"]
        assert item["url"] == meta[item["id"]]["url"]
    assert np.allclose(np.linalg.norm(c.embeddings, axis=1), 1.0, atol=1e-5)
    assert not (built_corpus / ".build").exists()


def test_resume_after_interruption_equals_uninterrupted(tmp_path, shots, embedder):
    ref = build_corpus(str(shots), tmp_path / "ref", embedder=embedder, batch_size=4, shard_size=8, progress=False)
    flaky = Interrupting(embedder, fail_at=5)  # dies inside the third shard
    with pytest.raises(KeyboardInterrupt):
        build_corpus(str(shots), tmp_path / "c", embedder=flaky, batch_size=4, shard_size=8, progress=False)
    assert not (tmp_path / "c" / "meta.json").exists()  # never a half-written corpus
    with pytest.raises(UsageError, match="not a built corpus"):
        load_corpus(tmp_path / "c")
    again = Interrupting(embedder)
    rep = build_corpus(str(shots), tmp_path / "c", embedder=again, batch_size=4, shard_size=8, progress=False)
    assert rep.resumed_rows == 16 and rep.embedded_now == 42 - 16
    assert again.images == rep.embedded_now - 2  # committed shards are not embedded again (2 corrupt skipped)
    a, b = load_corpus(tmp_path / "ref"), load_corpus(tmp_path / "c")
    assert a.items["id"] == b.items["id"] and rep.n_items == ref.n_items == 40
    assert np.allclose(a.embeddings, b.embeddings, atol=1e-5)
    # a different setting cannot silently mix into an interrupted build
    with pytest.raises(KeyboardInterrupt):
        build_corpus(str(shots), tmp_path / "d", embedder=Interrupting(embedder, 2), shard_size=8, batch_size=4,
                     progress=False)
    with pytest.raises(UsageError, match="different shard_size"):
        build_corpus(str(shots), tmp_path / "d", embedder=embedder, shard_size=16, progress=False)


def test_refuses_existing_or_foreign_output(tmp_path, shots, embedder, built_corpus):
    with pytest.raises(UsageError, match="already holds a built corpus"):
        build_corpus(str(shots), built_corpus, embedder=embedder, progress=False)
    with pytest.raises(UsageError, match="not a corpus folder"):
        build_corpus(str(shots), shots, embedder=embedder, progress=False, overwrite=True)
    assert (shots / "metadata.jsonl").exists()  # nothing of the user's was touched
    with pytest.raises(UsageError, match="no images found|cannot load|not found"):
        build_corpus(str(tmp_path / "missing"), tmp_path / "x", embedder=embedder, progress=False)


def test_hf_dataset_source_with_ids_and_bytes(tmp_path, shots, embedder):
    import datasets

    files = sorted(p for p in shots.glob("shot_*.png"))[:6]
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": f.read_bytes(), "path": None} for f in files] + [{"bytes": b"junk", "path": None}],
         "vid": [f"v{i}" for i in range(7)], "platform": ["youtube"] * 7, "caption": ["c"] * 7},
        features=datasets.Features({"image": datasets.Image(), "vid": datasets.Value("string"),
                                    "platform": datasets.Value("string"), "caption": datasets.Value("string")}))
    ds.save_to_disk(str(tmp_path / "src"))
    rep = build_corpus(str(tmp_path / "src"), tmp_path / "c", embedder=embedder, id_column="vid", progress=False)
    assert rep.n_items == 6 and rep.skipped[0]["id"] == "v6"
    c = load_corpus(tmp_path / "c")
    assert c.items["id"] == [f"v{i}" for i in range(6)] and set(c.items["platform"]) == {"youtube"}
    assert c.items[2]["image"].size == Image.open(files[2]).size
    with pytest.raises(UsageError, match="not a column"):
        build_corpus(str(tmp_path / "src"), tmp_path / "e", embedder=embedder, id_column="nope", progress=False)


def test_plain_folder_platform_from_subfolders(tmp_path, shots, embedder):
    for platform in ("tiktok", "youtube"):
        (tmp_path / "src" / platform).mkdir(parents=True)
    for i, f in enumerate(sorted(shots.glob("shot_*.png"))[:4]):
        shutil.copy(f, tmp_path / "src" / ("tiktok" if i % 2 else "youtube") / f.name)
    build_corpus(str(tmp_path / "src"), tmp_path / "c", embedder=embedder, platform_from_folder=True, progress=False)
    c = load_corpus(tmp_path / "c")
    assert {(i.split("/")[0], p) for i, p in zip(c.items["id"], c.items["platform"])} == {("tiktok", "tiktok"),
                                                                                         ("youtube", "youtube")}


def test_decode_rejects_garbage():
    with pytest.raises(OSError):  # PIL.UnidentifiedImageError
        decode({"bytes": b"nope", "path": None})
    with pytest.raises(ValueError):
        decode({"bytes": None, "path": None})
