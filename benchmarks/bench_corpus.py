"""Issue-5 figures: index build + keyword retrieval at 50k x 512, corpus embedding throughput and peak memory.

Run: python benchmarks/bench_corpus.py              (CPU; ~3-6 minutes; sizes 5k, 20k, 50k images)
     python benchmarks/bench_corpus.py --quick      (1k and 5k images)
     add --hnsw to also time an HNSW index

1. Retrieval: 50,000 random unit vectors (512-d) and the 80 keywords of the 10 Schwartz values; time
   to build the index and retrieve the top-5 per keyword (de-duplicated within values), for the flat
   and IVF (optionally HNSW) indexes, with the approximate indexes' recall against the exact flat result.
2. Embedding: synthetic screenshots built into a corpus with the tiny random CLIP, each size in a fresh
   subprocess; images/s of the embedding phase and the process's peak RSS (VmHWM). Memory should stay
   flat as the corpus grows because images are streamed and embeddings written per shard.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def retrieval(n: int = 50_000, d: int = 512, kinds: tuple[str, ...] = ("flat", "ivf")) -> None:
    from vbench.data.corpus.index import build_index
    from vbench.data.corpus.split import retrieve
    from vbench.data.corpus.store import KeywordTable, normalise
    from vbench.data.schwartz import load_schwartz

    rng = np.random.default_rng(0)
    emb = normalise(rng.normal(size=(n, d)))
    rows = load_schwartz().keyword_rows()
    kv = normalise(rng.normal(size=(len(rows), d)))
    emb[rng.choice(n, size=len(rows) * 20, replace=False)] = normalise(np.repeat(kv, 20, axis=0)
                                                                      + 0.03 * rng.normal(size=(len(rows) * 20, d)))
    table = KeywordTable(values=np.array([v for v, _ in rows]), keywords=np.array([k for _, k in rows]), vectors=kv)
    print(f"\n[retrieval] {n:,} x {d} unit vectors, {len(rows)} keywords over {len(table.value_names)} values, top-5")
    exact = None
    for kind in kinds:
        t = time.perf_counter()
        index, params = build_index(emb, kind)
        t_build = time.perf_counter() - t
        t = time.perf_counter()
        hits = retrieve(index, table, 5)
        t_ret = time.perf_counter() - t
        got = {(h["keyword"], h["row"]) for h in hits}
        exact = exact or got
        recall = len(got & exact) / len(exact)
        print(f"  {kind:5s} build {t_build:6.3f} s  retrieve {t_ret:6.3f} s  total {t_build + t_ret:6.3f} s  "
              f"recall vs flat {recall:.3f}  ({params})")


def _status() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(line.split()[1]) / 1024
    return out


def child(folder: str, clip: str, out: str, batch: int) -> None:
    """One build in this process; prints a JSON line with throughput and peak memory.

    Peak RSS (VmHWM) counts memory-mapped file pages too (the arrow files ``datasets`` maps while
    writing items/): clean page cache the kernel can drop. A sampler thread also records the peak of
    anonymous memory (RssAnon: the process's own heap, what a large corpus would exhaust).
    """
    import threading

    from vbench.data.corpus import build

    peaks = {"anon": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peaks["anon"] = max(peaks["anon"], _status()["RssAnon"])
            stop.wait(0.02)

    finalize = build._finalize

    def timed_finalize(*a, **k):  # the peak before the final step = the streaming embedding phase
        peaks["embed"] = _status()["VmHWM"]
        return finalize(*a, **k)

    build._finalize = timed_finalize
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t = time.perf_counter()
    rep = build.build_corpus(folder, out, clip_model=clip, batch_size=batch, progress=False, device="cpu")
    wall = time.perf_counter() - t
    stop.set()
    thread.join()
    print(json.dumps({"n": rep.n_items, "images_per_s": rep.images_per_s, "embed_s": rep.embed_seconds,
                      "wall_s": round(wall, 2), "peak_embed_mb": round(peaks["embed"], 1),
                      "peak_rss_mb": round(_status()["VmHWM"], 1), "peak_anon_mb": round(peaks["anon"], 1)}))


def embedding(sizes: list[int], batch: int, tmp: Path) -> None:
    from vbench.data.corpus.synthetic import build_synthetic_screenshots
    from vbench.testing.tiny_models import build_tiny_clip

    clip = build_tiny_clip(tmp / "clip")
    t = time.perf_counter()
    full = build_synthetic_screenshots(tmp / "shots", n=max(sizes), seed=0, size=(36, 64), caption_every=0)
    print(f"\n[embedding] generated {max(sizes):,} synthetic screenshots in {time.perf_counter() - t:.1f} s; "
          f"tiny CLIP, batch {batch}, each size in a fresh process")
    lines = (full / "metadata.jsonl").read_text().splitlines()
    results = []
    for n in sizes:
        folder = tmp / f"shots{n}"
        if n == max(sizes):
            folder = full
        else:  # the first n images (hard links) with their metadata
            folder.mkdir()
            for line in lines[:n]:
                name = json.loads(line)["file_name"]
                os.link(full / name, folder / name)
            (folder / "metadata.jsonl").write_text("\n".join(lines[:n]) + "\n")
        proc = subprocess.run([sys.executable, __file__, "--child", str(folder), str(clip), str(tmp / f"c{n}"),
                               str(batch)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode:
            print(proc.stderr[-2000:])
            raise SystemExit(1)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"  {r['n']:>7,} images  {r['images_per_s']:8.1f} images/s  embed {r['embed_s']:7.1f} s  "
              f"wall {r['wall_s']:6.1f} s  peak RSS: embedding phase {r['peak_embed_mb']:6.1f} MB, "
              f"whole build {r['peak_rss_mb']:6.1f} MB (anonymous {r['peak_anon_mb']:6.1f} MB)")
        shutil.rmtree(tmp / f"c{n}", ignore_errors=True)
    lo, hi = results[0], results[-1]
    print(f"  {hi['n']:,} vs {lo['n']:,} images ({hi['n'] / lo['n']:.0f}x): peak RSS embedding phase "
          f"{hi['peak_embed_mb'] / lo['peak_embed_mb']:.2f}x, whole build {hi['peak_rss_mb'] / lo['peak_rss_mb']:.2f}x, "
          f"anonymous {hi['peak_anon_mb'] / lo['peak_anon_mb']:.2f}x")
    print("  (the whole build also holds the finished faiss index, 4 x N x D bytes = "
          f"{4 * hi['n'] * 512 / 2**20:.0f} MB at {hi['n']:,} x 512, and maps the arrow files it writes)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1k and 5k images only")
    ap.add_argument("--sizes", default=None, help="comma-separated corpus sizes (default 5000,20000,50000)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--hnsw", action="store_true", help="also time an HNSW index (slow to build on few cores)")
    ap.add_argument("--skip-retrieval", action="store_true")
    ap.add_argument("--skip-embedding", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in (args.sizes or ("1000,5000" if args.quick else "5000,20000,50000")).split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_retrieval:
        retrieval(kinds=("flat", "ivf", "hnsw") if args.hnsw else ("flat", "ivf"))
    if not args.skip_embedding:
        with tempfile.TemporaryDirectory() as tmp:
            embedding(sizes, args.batch, Path(tmp))


if __name__ == "__main__":
    main()
