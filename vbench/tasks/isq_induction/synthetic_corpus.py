"""A small SYNTHETIC corpus in the value_spectrum layout, for offline demos, tests and benchmarks.

Items are clustered per Schwartz value (a random centre per value, a few sub-topics, noise), with
tiny drawn images whose colour follows the value, platform labels cycling over the three platforms
and three keyword vectors per value (the first three keywords of the packaged value set), written
with the shared `write_corpus`. It exercises the feed end to end; it is not the study's corpus.

    python -m vbench.tasks.isq_induction.synthetic_corpus --out demo/feed-corpus
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vbench.tasks.isq_induction.schwartz import VALUES

PLATFORM_LABELS = ("TikTok", "YouTube Shorts", "Instagram Reels")


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_embeddings(n_per_value: int, dim: int, seed: int = 0, subtopics: int = 3,
                         noise: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings [10·n, dim], value index per item, value centres [10, dim]); unit rows."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((len(VALUES), dim)))
    subs = _unit(rng.standard_normal((len(VALUES), subtopics, dim)))
    values = np.repeat(np.arange(len(VALUES)), n_per_value)
    sub = rng.integers(0, subtopics, values.size)
    emb = centres[values] + 0.5 * subs[values, sub] + noise * rng.standard_normal((values.size, dim)) / np.sqrt(dim) * 4
    return _unit(emb), values, centres


def _draw(value: int, rng: np.random.Generator, size: int) -> bytes:
    hue = np.array([(value * 37) % 256, (value * 91 + 60) % 256, (value * 53 + 120) % 256])
    colour = tuple(int(c) for c in np.clip(hue + rng.integers(-25, 26, 3), 0, 255))
    img = Image.new("RGB", (size, size), colour)
    d = ImageDraw.Draw(img)
    x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
    d.ellipse([x0, y0, x0 + size // 2, y0 + size // 2], fill=tuple(255 - c for c in colour))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def build_synthetic_corpus(out_dir: str | Path, n_per_value: int = 60, dim: int = 32, seed: int = 0,
                           image_size: int = 24) -> Path:
    """Write the corpus (through the shared ``write_corpus``) under ``out_dir``."""
    from vbench.data.corpus.store import KeywordTable, write_corpus
    from vbench.data.schwartz import load_schwartz

    emb, values, centres = synthetic_embeddings(n_per_value, dim, seed)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(values.size)  # interleave values so row order carries no signal
    emb, values = emb[order], values[order]
    rows = [{"id": f"syn-{i:06d}", "image": _draw(int(v), rng, image_size), "platform": PLATFORM_LABELS[i % 3],
             "post_date": f"2024-{8 + i % 3:02d}-{1 + i % 28:02d}", "url": f"https://example.invalid/video/{i}",
             "caption": f"synthetic {VALUES[v].lower()} clip"} for i, v in enumerate(values)]
    schwartz = load_schwartz()
    kw_rows = [(name, kw) for name in VALUES for kw in schwartz.get(name).keywords[:3]]  # 3 per value
    kw_idx = np.array([VALUES.index(name) for name, _ in kw_rows])
    vectors = _unit(centres[kw_idx] + 0.1 * rng.standard_normal((len(kw_rows), dim)) / np.sqrt(dim))
    table = KeywordTable(values=np.array([n for n, _ in kw_rows]), keywords=np.array([k for _, k in kw_rows]),
                         vectors=vectors)
    return write_corpus(out_dir, rows, emb, clip_model="synthetic", index="flat", keywords=table,
                        schwartz_version=schwartz.version, synthetic=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write a small SYNTHETIC feed corpus (not the study's)")
    p.add_argument("--out", required=True)
    p.add_argument("--n-per-value", type=int, default=60)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(build_synthetic_corpus(args.out, args.n_per_value, args.dim, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
