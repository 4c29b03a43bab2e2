"""ultimatum_pair (Study 2): two persona-playing models negotiate; each sees its own image, then the
opponent's ("The next image is your opponent:").

Default design as in the paper: 7 aggressiveness levels × 5 images per level = 35 personas, all ordered
pairs including self-pairs (1,225 games) × ``--repeats`` (default 5). Seat a proposes in rounds 1+3 and
plays role ``player_a``; seat b proposes in 2+4 as ``player_b`` (give each its own model with
``--model-role``). ``max_pairs`` draws a seeded random subset; ``--limit`` keeps the first N pairs.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import Field

from vbench.errors import UsageError
from vbench.results import atomic_write_text
from vbench.tasks.base import Sample
from vbench.tasks.ultimatum.base import UltimatumOptions, UltimatumTask


class PairOptions(UltimatumOptions):
    images_per_level: int = Field(5, ge=1, description="persona images per level in the design")
    select: Literal["first", "random"] = Field("first", description="which images of a level: dataset order or seeded draw")
    self_pairs: bool = Field(True, description="include games of a persona against itself")
    max_pairs: int | None = Field(None, ge=1, description="seeded random subset of the ordered pairs")
    design_seed: int = 0


class UltimatumPair(UltimatumTask[PairOptions]):
    name = "ultimatum_pair"
    description = "Ultimatum game between two visual personas (Kiss up, Kick down Study 2)"
    study = "pair"
    roles = ("player_a", "player_b", "judge")

    def build_samples(self) -> list[Sample]:
        o = self.options
        personas = self.personas()
        by_level = defaultdict(list)
        for p in personas:
            if p.level is None:
                self.skipped.append({"sample": p.image_id, "reason": "no aggressiveness level"})
            else:
                by_level[p.level].append(p)
        if not by_level:
            raise UsageError(
                f"ultimatum_pair needs aggressiveness levels: dataset {self.dataset_spec!r} has no {o.rating_column!r} "
                "values; pass levels_from=RUN/samples.jsonl (an aggressiveness_rating run) or level_column=NAME")
        rng = random.Random(o.design_seed)
        design = []
        for level in sorted(by_level):
            group = by_level[level]
            k = min(o.images_per_level, len(group))
            design += rng.sample(group, k) if o.select == "random" else group[:k]
        pairs = [(x, y) for x in design for y in design if o.self_pairs or x is not y]
        if o.max_pairs is not None and o.max_pairs < len(pairs):
            keep = sorted(random.Random(o.design_seed).sample(range(len(pairs)), o.max_pairs))
            pairs = [pairs[i] for i in keep]
        if self.ctx.limit:
            pairs = pairs[:self.ctx.limit]
        self.design = {"images_per_level": {str(lv): min(o.images_per_level, len(g)) for lv, g in sorted(by_level.items())},
                       "missing_levels": [lv for lv in range(1, o.n_levels + 1) if lv not in by_level],
                       "personas": [p.image_id for p in design], "pairs": len(pairs)}
        return [Sample(id=f"{x.image_id}~{y.image_id}", meta={"a": x.info(), "b": y.info()}) for x, y in pairs]

    def artifacts(self, records, out_dir: Path) -> list[str]:
        """design.json: which personas and levels the pair design used (short levels show here)."""
        self.samples()
        atomic_write_text(out_dir / "design.json", json.dumps(self.design, indent=2) + "\n")
        return ["design.json"]

    def episode(self, sample: Sample, repeat: int, seed: int):
        a, b = sample.meta["a"], sample.meta["b"]
        return (yield from self.play(sample, repeat, {
            "a": self.model_seat("a", a, "player_a", self.rules_text("pair_a", "first"), b["image"]),
            "b": self.model_seat("b", b, "player_b", self.rules_text("pair_b", "second"), a["image"]),
        }))
