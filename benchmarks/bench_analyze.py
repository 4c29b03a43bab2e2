"""`vbench analyze ultimatum` over 25,000 synthetic pair-game transcripts (figure: < 30 s).

Prints the wall time of the full command (load, re-extraction of all 200,000 turns, metrics with
VADER sentiment and pronouns, writing outputs), its CPU time, the number of distinct turn texts and
the machine's load average (other processes slow it down).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=25_000)
    ap.add_argument("--study", choices=["pair", "solo"], default="pair")
    args = ap.parse_args()
    from vbench.tasks.ultimatum.simulate import simulate_transcripts
    from vbench.tasks.ultimatum.transcripts import dump_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "transcripts.jsonl"
        games = simulate_transcripts(args.games, args.study, seed=1)
        src.write_text(dump_jsonl(games))
        texts = {t.text for g in games for t in g.turns}
        del games
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vbench", "analyze", "ultimatum", "--transcripts", str(src),
                        "--output_path", str(Path(tmp) / "out"), "--quiet"], check=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"games: {args.games} ({args.study}), turns: {args.games * 8}, distinct turn texts: {len(texts)}, "
          f"input: {src.name}")
    print(f"vbench analyze wall time: {wall:.1f} s (target < 30 s), CPU time (all processes): {cpu:.1f} s")
    print(f"load average during run (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
