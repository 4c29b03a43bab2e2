"""How fast bad model/dataset names fail: each case next to the bare start-up of the CLI, in one run.

Cases (each a real `python -m vbench` process, median of --repeats): `vbench --version` (start-up
only), a mistyped local model path, a mistyped local dataset path, a Hub model id and a Hub dataset id
with the Hub unreachable (connection refused). Prints seconds, the ratio to start-up and the exit code.
Run: python benchmarks/bench_fail_fast.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vbench", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    return time.perf_counter() - t0, proc.returncode, (proc.stderr.strip().splitlines() or [""])[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "demo" / "tiny-llava").mkdir(parents=True)
        (cwd / "demo" / "avatars").mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VBENCH_CACHE": str(cwd / "cache"), "HF_HUB_OFFLINE": "0",
               "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(cwd / "hf")}
        eval_ = ["eval", "--tasks", "aggressiveness_rating", "--output_path", "out"]
        cases = {
            "start-up (vbench --version)": ["--version"],
            "local model typo (demo/tiny-lava)": [*eval_, "--model", "hf", "--model_args", "pretrained=demo/tiny-lava"],
            "local dataset typo (demo/avatarz)": [*eval_, "--model", "dummy", "--dataset", "demo/avatarz"],
            "Hub model, Hub unreachable": [*eval_, "--model", "hf", "--model_args", "pretrained=some-org/some-vlm"],
            "Hub dataset, Hub unreachable": [*eval_, "--model", "dummy", "--dataset", "some-org/some-data"],
        }
        rows = []
        for _ in range(args.repeats):  # interleaved, so load on the machine hits every case alike
            for name, argv in cases.items():
                rows.append((name, *timed(argv, cwd, env)))
        base = statistics.median(t for n, t, _, _ in rows if n.startswith("start-up"))
        print(f"{'case':38s} {'median s':>9s} {'x start-up':>11s} {'exit':>5s}  message")
        for name in cases:
            mine = [r for r in rows if r[0] == name]
            med = statistics.median(t for _, t, _, _ in mine)
            print(f"{name:38s} {med:9.2f} {med / base:11.2f} {mine[-1][2]:5d}  {mine[-1][3][:90]}")
        print(f"(n = {args.repeats} runs per case; output folder created: {(cwd / 'out').exists()})")


if __name__ == "__main__":
    main()
