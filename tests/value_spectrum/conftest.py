"""Fixtures: a synthetic screenshot folder (with corrupt files), the tiny CLIP embedder, a built corpus."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image


def add_corrupt(folder: Path) -> list[str]:
    """A non-image with an image name and a truncated PNG; returns their file names."""
    (folder / "zz_garbage.png").write_bytes(b"this is not an image")
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    (folder / "zz_truncated.png").write_bytes(buf.getvalue()[:60])
    with open(folder / "metadata.jsonl", "a", encoding="utf-8") as fh:
        for name in ("zz_garbage.png", "zz_truncated.png"):
            fh.write(json.dumps({"file_name": name, "platform": "tiktok", "post_date": "2024-08-01",
                                 "url": None, "caption": None}) + "\n")
    return ["zz_garbage.png", "zz_truncated.png"]


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    from vbench.data.corpus.synthetic import build_synthetic_screenshots

    folder = build_synthetic_screenshots(tmp_path_factory.mktemp("vs") / "shots", n=40, seed=1)
    add_corrupt(folder)
    return folder


@pytest.fixture(scope="session")
def embedder(tiny_clip):
    from vbench.data.corpus.clip import ClipEmbedder

    return ClipEmbedder(str(tiny_clip), device="cpu")


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory, shots, embedder) -> Path:
    """The synthetic folder built into a corpus with its split (top-2 per keyword)."""
    from vbench.data.corpus.build import build_corpus
    from vbench.data.corpus.split import build_split

    out = tmp_path_factory.mktemp("vs") / "corpus"
    build_corpus(str(shots), out, embedder=embedder, batch_size=8, shard_size=16, progress=False)
    build_split(out, top_k=2, embedder=embedder)
    return out
