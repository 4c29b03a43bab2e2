"""`vbench analyze ultimatum` throughput on pair games with long (~300-token) turns, games per second.

Games come from ``simulate_transcripts`` (known offers and acceptances); every turn is then padded to
about 300 tokens with negotiation prose drawn at random from a pool of sentences in several styles
(role-play, hedging deliberation, recaps), the proposal or decision placed at a random position, so
nearly every turn text is distinct, as in real transcripts. Tokens are counted as words and
punctuation marks (close to a BPE count for plain English). The full command (load, rule extraction
of every turn, metrics, writing outputs) runs twice side by side, with and without language measures
(pronouns, VADER sentiment). Wall time depends on what else runs on the machine (load average
printed), so the CPU time of the command and its workers is printed too, with the throughput it
implies on idle cores.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_PROSE = [
    "*leans forward, resting both elbows on the worn oak table, eyes fixed on the pile of coins between us*",
    "I have thought long and hard about how this round should go, and I want to be honest about my reasoning.",
    "Fairness matters to me, but so does recognising the strength and experience that I bring to this table.",
    "We both know that if this offer is rejected, neither of us walks away with anything at all.",
    "In the previous round we managed to reach an agreement, and I would like to keep that spirit alive.",
    "My character has survived many hard winters, and generosity was never a luxury I could afford.",
    "Still, I believe that a reasonable division now builds the trust we will need in the rounds to come.",
    "*taps the table twice, a faint smile playing at the corner of my mouth*",
    "You strike me as someone who values respect, and I intend to show you some in return.",
    "Let me be clear about one thing: I will not be pushed around, nor will I push you around.",
    "There is a certain dignity in a fair bargain that I find far more satisfying than a quick win.",
    "I considered asking for more, but greed has a way of leaving people with nothing.",
    "The crowd in the tavern has gone quiet, waiting to see how the two of us settle this matter.",
    "Some would call this weakness; I call it the wisdom that comes from many years of negotiation.",
    "Our partnership matters to us both, and we can both walk away from this table satisfied.",
    "I know my worth, and I expect you to respect it as much as I respect yours.",
    "It is not easy to weigh pride against prudence, but that is exactly what this moment requires.",
    "*pauses, glancing at the coins, then back at you with a steady and unreadable expression*",
    "Whatever you decide, I hope we can remain civil and finish the remaining rounds with honour.",
    "Remember that the sum on the table is one hundred dollars, and every choice we make shapes the outcome.",
    "My grandmother used to say that a deal is only good if both sides can sleep soundly afterwards.",
    "I could argue that my position entitles me to more, yet I see little value in a bitter victory.",
    "Thank you for your patience; I know these decisions are rarely simple for anyone involved.",
    "If I am being completely transparent, part of me wanted to test how you would respond.",
    "Trust, once broken, is hard to rebuild, so I am choosing my words and my numbers carefully.",
    "The wind rattles the shutters as I finally make up my mind.",
]
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _pad(rng: random.Random, core: str, target: int = 300) -> str:
    parts, n = [], len(_TOKEN.findall(core))
    while n < target:
        s = rng.choice(_PROSE)
        parts.append(s)
        n += len(_TOKEN.findall(s))
    parts.insert(rng.randrange(len(parts) + 1), core)
    return " ".join(parts)


def _games(n: int, seed: int):
    from vbench.tasks.ultimatum.simulate import simulate_transcripts

    rng = random.Random(seed)
    games = simulate_transcripts(n, "pair", seed=seed)
    for g in games:
        for t in g.turns:
            t.text = _pad(rng, t.text or "")
    return games


def _run(src: Path, out: Path, *flags: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vbench", "analyze", "ultimatum", "--transcripts", str(src),
                    "--output_path", str(out), "--quiet", *flags], check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from vbench.tasks.ultimatum.transcripts import dump_jsonl

    games = _games(args.games, args.seed)
    texts = [t.text for g in games for t in g.turns]
    tokens = sum(len(_TOKEN.findall(x)) for x in texts) / len(texts)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "transcripts.jsonl"
        src.write_text(dump_jsonl(games))
        del games
        size = src.stat().st_size / 1e6
        load0 = os.getloadavg()[0]
        with_lang = _run(src, Path(tmp) / "a")
        without = _run(src, Path(tmp) / "b", "--no-language")
        load1 = os.getloadavg()[0]
    print(f"pair games: {args.games}, turns: {len(texts)} ({len(set(texts))} distinct), "
          f"mean tokens per turn: {tokens:.0f}, input: {size:.0f} MB")
    cores = os.cpu_count() or 1
    for name, (wall, cpu) in (("with language measures", with_lang), ("without (--no-language)", without)):
        print(f"{name:<25} wall {wall:6.1f} s = {args.games / wall:6.0f} games/s | CPU {cpu:6.1f} s = "
              f"{1000 * cpu / args.games:5.1f} CPU-ms per game, at most {cores * args.games / cpu:6.0f} games/s "
              f"on {cores} idle cores")
    print("target: >= 1000 games/s with language measures on 2 cores")
    print(f"load average (1 min) before / after: {load0:.2f} / {load1:.2f} on {cores} cores "
          "(other processes share the machine: the CPU figures are the fairer ones)")


if __name__ == "__main__":
    main()
