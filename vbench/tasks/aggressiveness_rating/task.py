"""aggressiveness_rating: how aggressive does a persona image look, 1–7 (Kiss up, Kick down, A1).

Two scorings of the same prompt: ``sampled`` parses the generated answer (paper fidelity, temperature 0)
and ``choice`` reads the probability of each of "1".."7" giving an expected rating. Metrics (metrics.py) compare the
ratings with human ratings per image and regress them on the appearance factors when the dataset has them.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from vbench.data.defaults import default_dataset
from vbench.errors import UsageError
from vbench.tasks.aggressiveness_rating.metrics import compute_metrics
from vbench.tasks.base import Sample, Task, TaskContext, TaskOptions, stable_hash
from vbench.tasks.common import load_image_samples
from vbench.tasks.prompts import load_prompts
from vbench.types import GenParams, ImagePart, Message, Record, Request

PROMPTS = load_prompts("vbench.tasks.aggressiveness_rating")
FACTORS: list[str] = PROMPTS["factors"]
# a digit 1-7 not inside a longer number: "5", "5.", "5.0", "**5**", "5/7" count; "10", "3.5", "0.5" do not
_RATING = re.compile(r"(?<![\d.])([1-7])(?:\.0+)?(?!\d|\.\d)")


def parse_rating(text: str | None) -> int | None:
    """First standalone rating 1–7 in the answer ("5", "5.", "5.0", "Rating: 5/7" → 5); None otherwise."""
    if not text:
        return None
    m = _RATING.search(text)
    return int(m.group(1)) if m else None


class Options(TaskOptions):
    scoring: Literal["both", "sampled", "choice"] = "both"
    wording: Literal["aggressive", "hostile"] = "aggressive"
    id_column: str | None = None


class AggressivenessRating(Task[Options]):
    name = "aggressiveness_rating"
    version = "1.0"
    description = "Rate how aggressive a persona image looks, 1-7 (Kiss up, Kick down A1)"

    def __init__(self, options: Options, ctx: TaskContext):
        super().__init__(options, ctx)
        self._samples: list[Sample] | None = None

    @property
    def dataset_spec(self) -> str:
        return self.ctx.dataset or default_dataset("avatars")

    def prompt_set(self) -> dict[str, Any]:
        return {"version": PROMPTS["version"], "system": PROMPTS["profiles"][self.options.wording]["system"],
                "generation": PROMPTS["generation"], "options": PROMPTS["options"], "scoring": self.options.scoring}

    def samples(self) -> list[Sample]:
        if self._samples is None:
            self._samples, self.skipped = load_image_samples(
                self.dataset_spec, self.ctx.store, required=["image"],
                keep=["human_rating", *FACTORS, "id", "level"], id_column=self.options.id_column,
                limit=self.ctx.limit, skip_bad=self.ctx.skip_bad_samples)
            if not self._samples:
                raise UsageError(f"dataset {self.dataset_spec!r} has no usable samples")
        return self._samples

    def dataset_fingerprint(self) -> str:
        return stable_hash([s.meta for s in self.samples()])

    def episode(self, sample: Sample, repeat: int, seed: int):
        messages = (Message.system(self.prompt_set()["system"]), Message.user(ImagePart(image=sample.meta["image"])))
        gen = GenParams(**PROMPTS["generation"])
        reqs = []
        if self.options.scoring in ("both", "sampled"):
            reqs.append(Request(kind="generate", messages=messages, gen=gen))
        if self.options.scoring in ("both", "choice"):
            reqs.append(Request(kind="choose", messages=messages, gen=gen, options=tuple(PROMPTS["options"])))
        responses = yield reqs
        out: dict[str, Any] = {}
        for req, resp in zip(reqs, responses):
            if req.kind == "generate":
                out["answer"] = resp.text
                out["rating"] = parse_rating(resp.text)
                out["parse_ok"] = out["rating"] is not None
            else:
                probs = resp.probs or {}
                out["probs"] = probs
                out["expected_rating"] = sum(int(k) * p for k, p in probs.items()) if probs else None
                out["choice_method"] = resp.method
                out["option_mass"] = resp.option_mass
        return out

    # -- metrics ---------------------------------------------------------------------------
    def metrics(self, records: list[Record]) -> dict[str, Any]:
        return compute_metrics(records)

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any]):
        for key in ("pearson_human_rating", "pearson_human_expected_rating", "spearman_human_rating",
                    "spearman_human_expected_rating", "mean_rating", "mean_expected_rating", "parse_rate"):
            if key in metrics:
                yield key, metrics[key]
