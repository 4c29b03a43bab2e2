"""Fixtures: real dummy-backend runs of every task (built once), and helpers to copy and tamper with them."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

INJECTED = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="package", autouse=True)
def _private_cache(tmp_path_factory):
    """Images, indexes and responses stay in a temporary $VBENCH_CACHE, never the user's."""
    import vbench.images as images

    old, old_store = os.environ.get("VBENCH_CACHE"), images._default
    os.environ["VBENCH_CACHE"] = str(tmp_path_factory.mktemp("view-cache"))
    images._default = None
    yield
    images._default = old_store
    if old is None:
        os.environ.pop("VBENCH_CACHE", None)
    else:
        os.environ["VBENCH_CACHE"] = old


@pytest.fixture(scope="package")
def runs(tmp_path_factory, tiny_clip, avatars) -> dict[str, Path]:
    """{task: run folder} for all five tasks, plus "aggressiveness_rating@2": a second model's run."""
    from vbench.data.corpus.build import build_corpus
    from vbench.data.corpus.clip import ClipEmbedder
    from vbench.data.corpus.split import build_split
    from vbench.data.corpus.synthetic import build_synthetic_screenshots
    from vbench.evaluator import evaluate
    from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus

    root = tmp_path_factory.mktemp("view-runs")
    out, out2 = root / "results", root / "results2"
    common = dict(model="dummy", output_path=out, show_progress=False)
    evaluate(tasks="aggressiveness_rating", dataset=str(avatars), **common)
    evaluate(tasks="ultimatum_solo", dataset=str(avatars), limit=2, repeats=1, **common)
    evaluate(tasks="ultimatum_pair", dataset=str(avatars), limit=6, repeats=1,
             task_args="images_per_level=1,binning=quantile", **common)
    shots = build_synthetic_screenshots(root / "shots", n=40, seed=1)
    corpus = root / "corpus"
    emb = ClipEmbedder(str(tiny_clip), device="cpu")
    build_corpus(str(shots), corpus, embedder=emb, batch_size=8, shard_size=16, progress=False)
    build_split(corpus, top_k=2, embedder=emb)
    evaluate(tasks="value_spectrum", dataset=str(corpus), limit=20, task_args="followups=true", **common)
    feed = build_synthetic_corpus(root / "feed", n_per_value=10, dim=16, seed=0)
    evaluate(tasks="isq_induction", dataset=str(feed), task_args="platforms=tiktok,trials=1,scrolls=6,n=3", **common)
    evaluate(tasks="aggressiveness_rating", dataset=str(avatars), model="dummy", model_args="vocab=1 2 3 4 5 6 7",
             output_path=out2, show_progress=False)
    found = {p.parent.name: p.parent for p in out.glob("*/*/samples.jsonl")}
    found["aggressiveness_rating@2"] = next(out2.glob("*/aggressiveness_rating"))
    return found


@pytest.fixture
def copy_run(runs, tmp_path):
    """A writable copy of one run folder (to tamper with)."""

    def make(task: str) -> Path:
        dst = tmp_path / "copies" / task
        shutil.copytree(runs[task], dst)
        return dst

    return make


def rewrite(samples: Path, fn) -> None:
    """Apply ``fn(record) -> record`` to every line of a samples.jsonl."""
    lines = [json.dumps(fn(json.loads(line))) for line in samples.read_text().splitlines()]
    samples.write_text("\n".join(lines) + "\n")
