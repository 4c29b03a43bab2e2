"""Fixtures for isq_induction: a synthetic corpus in the value_spectrum layout, scripted viewers."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def feed_corpus(tmp_path_factory) -> Path:
    """400 items (40 per value), 16-d embeddings clustered per value, tiny images, platform labels."""
    from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus

    return build_synthetic_corpus(tmp_path_factory.mktemp("corpus") / "feed", n_per_value=40, dim=16, seed=0)


@pytest.fixture
def corpus_copy(feed_corpus, tmp_path) -> Path:
    """A writable copy of the synthetic corpus, for tests that break it."""
    return Path(shutil.copytree(feed_corpus, tmp_path / "corpus"))


def corrupt_images(corpus_dir: Path, value: str) -> set[str]:
    """Make the images of one value's items unreadable (in place); returns their item ids."""
    import datasets

    items = datasets.load_from_disk(str(corpus_dir / "items")).cast_column("image", datasets.Image(decode=False))
    bad = {i for i, cap in enumerate(items["caption"]) if value.lower() in cap}
    items = items.map(lambda row, i: {"image": {"bytes": b"not an image", "path": None} if i in bad else row["image"]},
                      with_indices=True)
    items.save_to_disk(str(corpus_dir / "items_new"))
    shutil.rmtree(corpus_dir / "items")
    (corpus_dir / "items_new").rename(corpus_dir / "items")
    return {items[i]["id"] for i in bad}
