"""Batch-invariant sampling in the hf runner: identical sampled turns at --batch_size 1 vs 8, and its cost.

Plays the same ultimatum_solo games (tiny random LLaVA built offline, temperature 1) at batch size 1 and
8, once with per-request generators (the runner) and once with the former per-batch global seeding
(re-created here for comparison), and prints the share of sampled turns that are identical between the
two batch sizes and the bs-8 wall time of each seeding (whole evaluate call, model load included),
measured side by side in one run.

Run: python benchmarks/bench_batch_invariance.py [--games 8] [--max_tokens 24]   (CPU; ~2-4 minutes)
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.evaluator import evaluate  # noqa: E402
from vbench.runners import hf  # noqa: E402
from vbench.runners.scheduler import derive_seed  # noqa: E402
from vbench.testing.tiny_models import build_tiny_llava  # noqa: E402
from vbench.types import Request, Response  # noqa: E402

ROW_SEEDED = hf.HFRunner._generate


def per_batch_generate(self: hf.HFRunner, reqs: list[Request], want_first: bool = False) -> tuple[list[Response], Any]:
    """The former sampling: transformers' sampler with the global RNG seeded once per batch."""
    g = reqs[0].gen
    inputs = self._encode(reqs)
    kw: dict[str, Any] = {"max_new_tokens": g.max_tokens, "do_sample": g.temperature > 0}
    if g.temperature > 0:
        kw.update(temperature=g.temperature, top_p=g.top_p)
        torch.manual_seed(derive_seed(*(r.gen.seed for r in reqs)))
    with torch.inference_mode():
        seqs = self._model.generate(**inputs, **kw)
    texts = self.tokenizer.batch_decode(seqs[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return [Response(text=hf._stop_at(t.strip(), r.gen.stop), method="generate") for t, r in zip(texts, reqs)], None


def play(model: Path, data: Path, out: Path, bs: int, games: int, max_tokens: int) -> tuple[dict, float]:
    t = time.perf_counter()
    evaluate(model="hf", model_args=f"pretrained={model},device=cpu", tasks=["ultimatum_solo"], dataset=str(data),
             limit=games, repeats=1, batch_size=bs, seed=0, output_path=out, use_cache=False,
             gen_kwargs=f"temperature=1,max_tokens={max_tokens}", cache_dir=out / "cache", show_progress=False)
    wall = time.perf_counter() - t
    recs = [json.loads(x) for x in next(out.glob("*/ultimatum_solo/samples.jsonl")).read_text().splitlines()]
    return {(r["episode_id"], i): t["response"] for r in recs
            for i, t in enumerate(r["turns"]) if t["kind"] == "generate"}, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", type=int, default=8)
    p.add_argument("--max_tokens", type=int, default=24)
    a = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_llava(root / "tiny-llava")
        data = build_synthetic_avatars(root / "avatars", n=max(4, a.games), seed=0)
        rows = {}
        for name, generate in (("per-request generators", ROW_SEEDED), ("per-batch global seed", per_batch_generate)):
            hf.HFRunner._generate = generate  # type: ignore[method-assign]
            turns1, _ = play(model, data, root / f"{name[:9]}-1", 1, a.games, a.max_tokens)
            turns8, wall8 = play(model, data, root / f"{name[:9]}-8", 8, a.games, a.max_tokens)
            same = sum(turns1[k] == turns8.get(k) for k in turns1)
            rows[name] = (same, len(turns1), wall8)
        hf.HFRunner._generate = ROW_SEEDED  # type: ignore[method-assign]
    print(f"ultimatum_solo, tiny LLaVA on CPU, temperature 1, max_tokens {a.max_tokens}, {a.games} games")
    for name, (same, n, wall) in rows.items():
        print(f"  {name:24s}: {same}/{n} sampled turns identical at bs 1 vs 8 ({100 * same / n:.1f}%); "
              f"bs-8 wall {wall:.2f} s")
    new, old = rows["per-request generators"][2], rows["per-batch global seed"][2]
    print(f"  speed ratio at bs 8 (per-batch wall / per-request wall): {old / new:.2f}")


if __name__ == "__main__":
    main()
