"""Issue-7 figure: the rating server under 50 concurrent raters posting for 60 s on loopback, 0 lost ratings.

The server is the real `vbench annotate` command in its own process; the raters are threads here, each
looping GET /api/next → POST /api/rate on a kept-alive connection. Afterwards every acknowledged rating
id is looked up in the SQLite file.
Run: python benchmarks/bench_annotate.py [--raters 50] [--duration 60]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vbench.annotate.loadtest import run_load  # noqa: E402
from vbench.annotate.store import RatingStore  # noqa: E402
from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/status", timeout=2) as r:
                json.load(r)
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not come up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--images", type=int, default=200)
    args = ap.parse_args()
    raters = [f"rater{i:03d}" for i in range(args.raters)]
    with tempfile.TemporaryDirectory() as tmp:
        data = build_synthetic_avatars(Path(tmp) / "avatars", n=args.images)
        db, port = Path(tmp) / "ratings.sqlite", free_port()
        cmd = [sys.executable, "-m", "vbench", "annotate", "--dataset", str(data), "--db", str(db),
               "--raters", ",".join(raters), "--port", str(port)]
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(url, proc)
            keys = [f"synthetic-{i:04d}" for i in range(args.images)]
            links = RatingStore(db).links()  # each rater posts with the key of their personal link
            result = run_load(url, [links[r] for r in raters], args.duration, keys)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        store = RatingStore(db)
        stored = set(store.frame().id)
        store.close()
    lost = len(set(result.acked_ids) - stored)
    print(f"raters: {result.raters}, duration: {result.duration_s:.1f} s, requests: {result.requests:,}")
    print(f"ratings acknowledged: {result.acknowledged:,} ({result.ratings_per_s:.0f}/s), stored: {len(stored):,}, "
          f"lost: {lost} (target 0), refused: {result.refused}, transport errors: {result.transport_errors}")


if __name__ == "__main__":
    main()
