"""`vbench view` figures: log growth from full conversations, first page of a 25,000-game run, static export.

1. Log growth (target <= 1.5x): real ultimatum_pair runs through `vbench.evaluate` with a seeded word
   generator as the model, at several reply lengths (the paper lets replies run to 300 tokens). Each
   run's samples.jsonl is compared with the same records written without the conversation fields
   (exactly today's format), side by side.
2. First page (target < 1 s): a 25,000-game samples.jsonl (the records of a real run, repeated under new
   episode ids with other replies), opened by a fresh `vbench view` server; the first page is fetched
   over HTTP before any index exists, then the index build time and a filtered/searched page and a deep
   page once it exists.
3. Static export (target < 30 s): 1,000 ultimatum_pair episodes, pages + thumbnails.

Run: python benchmarks/bench_view.py [--games 25000] [--export-episodes 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.registry import MODELS  # noqa: E402
from vbench.runners.dummy import DummyArgs, DummyRunner  # noqa: E402
from vbench.types import Record, Request, Response  # noqa: E402

WORDS = ("I propose a split of $60 for me and $40 for you as a fair division given my character's "
         "stern and watchful nature; I accept your offer though I would prefer more, reject counter "
         "deal money round trust respect strength kindness warrior friend opponent").split()


class WordsArgs(DummyArgs):
    words: int = 40


class WordsRunner(DummyRunner):
    """Seeded replies of about ``words`` words (uniform 0.5x-1.5x), like a chatty persona."""

    backend = "bench_words"
    Args = WordsArgs

    def run(self, requests: list[Request]) -> list[Response]:
        out = []
        for req in requests:
            rng = self._rng(req)
            n = max(1, int(self.args.words * rng.uniform(0.5, 1.5)))
            out.append(Response(text=" ".join(rng.choice(WORDS) for _ in range(n)), method="generate"))
        return out


def today_bytes(samples: Path) -> tuple[int, int]:
    """(bytes as written, bytes of the same records without the conversation fields)."""
    new = old = 0
    for line in samples.read_text(encoding="utf-8").splitlines():
        rec = Record.model_validate_json(line)
        new += len(line) + 1
        legacy = rec.model_dump(mode="json", exclude={"messages": True, "turns": {"__all__": {"messages"}}})
        old += len(json.dumps(legacy, separators=(",", ":"))) + 1
    return new, old


def log_growth(tmp: Path, data: Path) -> Path:
    from vbench.evaluator import evaluate

    MODELS.register("bench_words", WordsRunner, "benchmark word generator")
    template = None
    print("1. log growth on ultimatum_pair (64 games, 7 levels, paper prompts)")
    for words in (8, 40, 120, 250):
        out = tmp / f"growth{words}"
        evaluate(model="bench_words", model_args=f"words={words}", tasks="ultimatum_pair", dataset=str(data),
                 limit=64, repeats=1, use_cache=False, output_path=out, cache_dir=tmp / "cache",
                 task_args="images_per_level=3", show_progress=False)
        samples = next(out.glob("*/ultimatum_pair/samples.jsonl"))
        new, old = today_bytes(samples)
        print(f"   replies ~{words:>3} words: {old / 64 / 1024:6.1f} KiB/game today -> {new / 64 / 1024:6.1f} KiB/game "
              f"with full conversations: {new / old:.2f}x (target <= 1.5x)")
        if words == 40:
            template = samples
    return template


def big_run(template: Path, out: Path, games: int) -> Path:
    """A run folder of ``games`` records: the template's records under new ids, replies reshuffled."""
    out.mkdir(parents=True)
    lines = template.read_text(encoding="utf-8").splitlines()
    rng = random.Random(0)
    with open(out / "samples.jsonl", "w", encoding="utf-8") as fh:
        for i in range(games):
            rec = json.loads(lines[i % len(lines)])
            rec["episode_id"] = f"{rec['episode_id']}#{i}"
            rec["index"] = i
            for t in rec["turns"]:
                if t.get("response"):
                    words = t["response"].split()
                    rng.shuffle(words)
                    t["response"] = " ".join(words)
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    res = json.loads((template.parent / "results.json").read_text())
    (out / "results.json").write_text(json.dumps(res))
    (out / "image_store.json").write_text((template.parent / "image_store.json").read_text())
    return out


def get(url: str) -> tuple[float, bytes]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t, body


def first_page(run_dir: Path, games: int) -> None:
    from vbench.view.runs import find_runs
    from vbench.view.server import make_server, site_url
    from vbench.view.site import Site

    print(f"2. first page of a {games:,}-game run ({(run_dir / 'samples.jsonl').stat().st_size / 2**20:.0f} MiB samples.jsonl)")
    t0 = time.perf_counter()
    site = Site(find_runs([run_dir]))
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run_id = next(iter(site.runs))
        base = site_url(server).rstrip("/")
        t1 = time.perf_counter()
        site.build_in_background(run_id)  # as `vbench view` does at start
        dt, body = get(f"{base}/run/{run_id}")  # no index yet: read from the head of the file
        opened = time.perf_counter() - t0
        assert b"bubble" in body
        print(f"   first page while the index builds: {dt:.3f} s over HTTP ({opened:.3f} s from opening the run) "
              f"(target < 1 s)")
        while not site.indexes[run_id].ready:
            time.sleep(0.05)
        built = time.perf_counter() - t1
        print(f"   index build (once per file version, in the background): {built:.2f} s")
        dt2, _ = get(f"{base}/run/{run_id}?level=3&parse=fail&q=warrior")
        dt3, _ = get(f"{base}/run/{run_id}?page={games // 24}")
        dt4, _ = get(f"{base}/run/{run_id}")
        print(f"   with the index: filtered + searched page {dt2:.3f} s, page {games // 24:,} {dt3:.3f} s, "
              f"first page {dt4:.3f} s")
    finally:
        server.shutdown()
        server.server_close()


def export_time(template: Path, tmp: Path, episodes: int) -> None:
    from vbench.view.export import export
    from vbench.view.runs import find_runs

    run_dir = big_run(template, tmp / "export_run", episodes)
    t = time.perf_counter()
    counts = export(find_runs([run_dir]), tmp / "site")
    dt = time.perf_counter() - t
    size = sum(p.stat().st_size for p in (tmp / "site").rglob("*") if p.is_file())
    print(f"3. static export of {counts['episodes']:,} episodes: {dt:.1f} s (target < 30 s); {counts['pages']} list pages, "
          f"{counts['images']} images, {size / 2**20:.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=25_000)
    ap.add_argument("--export-episodes", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["VBENCH_CACHE"] = str(tmp / "cache")
        data = build_synthetic_avatars(tmp / "avatars", n=32, seed=2)
        template = log_growth(tmp, data)
        first_page(big_run(template, tmp / "big", args.games), args.games)
        export_time(template, tmp, args.export_episodes)
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
