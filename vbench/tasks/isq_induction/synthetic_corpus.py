"""A small SYNTHETIC corpus in the value_spectrum layout, for offline demos, tests and benchmarks.

Items are clustered per Schwartz value (a random centre per value, a few sub-topics, noise), with
tiny drawn images whose colour follows the value, platform labels cycling over the three platforms
and three keyword vectors per value. It exercises the feed end to end; it is not the study's corpus.

    python -m vbench.tasks.isq_induction.synthetic_corpus --out demo/feed-corpus
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vbench.tasks.isq_induction.schwartz import VALUES

PLATFORM_LABELS = ("TikTok", "YouTube Shorts", "Instagram Reels")
_KEYWORDS = {
    "Self-direction": ("creativity", "freedom", "curiosity"), "Universalism": ("equality", "globe", "nature"),
    "Benevolence": ("helping", "family", "pets"), "Stimulation": ("adventure", "extreme sports", "novelty"),
    "Power": ("wealth", "luxury", "authority"), "Achievement": ("success", "competition", "ambition"),
    "Hedonism": ("vacation", "comedy", "concert"), "Conformity": ("rules", "politeness", "obedience"),
    "Tradition": ("religion", "heritage", "festival"), "Security": ("safety", "health", "stability"),
}


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
    """Write items/, embeddings.npy, index.faiss, meta.json and keywords.npz under ``out_dir``."""
    import datasets
    import faiss

    datasets.disable_progress_bars()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    emb, values, centres = synthetic_embeddings(n_per_value, dim, seed)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(values.size)  # interleave values so row order carries no signal
    emb, values = emb[order], values[order]
    n = values.size
    rows = {
        "id": [f"syn-{i:06d}" for i in range(n)],
        "image": [{"bytes": _draw(int(v), rng, image_size), "path": None} for v in values],
        "platform": [PLATFORM_LABELS[i % 3] for i in range(n)],
        "post_date": [f"2024-{8 + i % 3:02d}-{1 + i % 28:02d}" for i in range(n)],
        "url": [f"https://example.invalid/video/{i}" for i in range(n)],
        "caption": [f"synthetic {VALUES[v].lower()} clip" for v in values],
    }
    features = datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(),
                                  "platform": datasets.Value("string"), "post_date": datasets.Value("string"),
                                  "url": datasets.Value("string"), "caption": datasets.Value("string")})
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(out / "items"))
    np.save(out / "embeddings.npy", emb)
    index = faiss.IndexFlatIP(dim)
    index.add(emb)
    faiss.write_index(index, str(out / "index.faiss"))
    kw_values = [v for v in VALUES for _ in _KEYWORDS[v]]
    kw_words = [w for v in VALUES for w in _KEYWORDS[v]]
    kw_vec = _unit(np.repeat(centres, 3, axis=0) + 0.1 * rng.standard_normal((len(kw_values), dim)) / np.sqrt(dim))
    np.savez(out / "keywords.npz", values=np.array(kw_values), keywords=np.array(kw_words), vectors=kw_vec)
    (out / "meta.json").write_text(json.dumps({"clip_model": "synthetic", "dim": dim, "n": n, "index_type": "IndexFlatIP",
                                               "schwartz_version": "synthetic-1", "synthetic": True}, indent=2))
    return out


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
