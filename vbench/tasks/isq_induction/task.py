"""isq_induction: can a VLM be steered into a persona, as seen by a feed that learns from it?

Protocol B2 of Value-Spectrum. A trial is one simulated feed (platform profile × strategy × trial
index) of ``scrolls`` screenshots: each scroll the model, told a persona (or not: ``plain``), says
watch or skip, and the recommender learns from that alone. I_avg compares "yes" counts of the last and
first n scrolls (Eq. 1); alignment checks whether the feed drifted toward the persona's values. The
feed reacts to each answer before the next scroll, and a trial's feed depends on its own seed and
answers alone, so trials may advance in any order or batch and give the same records.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError

from vbench.errors import UsageError, VbenchError
from vbench.images import ImageError
from vbench.runners.scheduler import derive_seed
from vbench.tasks.base import Sample, Task, TaskOptions, stable_hash
from vbench.tasks.isq_induction import metrics as feed_metrics
from vbench.tasks.isq_induction.feed_corpus import FeedCorpus, load_feed_corpus
from vbench.tasks.isq_induction.feed_space import build_space, choose_slice, project
from vbench.tasks.isq_induction.personas import Persona, load_personas
from vbench.tasks.isq_induction.plot import write_curves
from vbench.tasks.isq_induction.recommender import FeedSimulator, FeedTrial, PlatformProfile
from vbench.tasks.isq_induction.schwartz import VALUES
from vbench.tasks.isq_induction.strategies import PROMPTS, STRATEGIES, Strategy
from vbench.tasks.isq_induction.supply import Supply, pool_supply, summary, worst
from vbench.tasks.prompts import load_prompts
from vbench.types import ImagePart, Record

PLATFORMS = load_prompts("vbench.tasks.isq_induction", "platforms.yaml")
_MAX_REDRAWS = 50
log = logging.getLogger("vbench.isq_induction")


class Options(TaskOptions):
    corpus: str | None = Field(None, description="corpus folder (default: --dataset)")
    personas: str | None = Field(None, description="persona file or dataset (default: the built-in 60)")
    strategies: str = "plain,simple,isq"
    platforms: str = "tiktok,youtube,instagram"
    trials: int = Field(10, ge=1, description="N trials per platform × strategy (--limit caps it)")
    all_personas: bool = Field(False, description="one trial per persona instead of N drawn ones")
    scrolls: int = Field(100, ge=2)
    n: int = Field(50, ge=1, description="first/last window of Eq. 1; at most scrolls/2")
    threshold: float = Field(60.0, ge=0, le=100, description="ISQ: watch iff S% > threshold")
    answer: Literal["choose", "generate"] = "choose"
    isq_format: Literal["batch", "structured"] = "batch"
    isq_score: Literal["expected", "argmax"] = Field("expected", description="ISQ 1-10 scales from choose: "
                                                     "expected value or likeliest answer")
    isq_yes_no: Literal["binary", "expected"] = Field("binary", description="ISQ pa/ad: 0/1 as in the paper "
                                                      "(every backend), or P(yes) from choose")
    platform_slice: Literal["auto", "off", "require"] = "auto"
    platform_file: str | None = Field(None, description="YAML of extra/overriding platform profiles")
    topics: int | None = Field(None, ge=2, description="k-means topics per pool (default round(sqrt(pool size)))")
    plot_window: int = Field(10, ge=1)


def _names(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UsageError(f"--task_args {what}: give at least one of {', '.join(known)}")
    for name in names:
        if name not in known:
            raise UsageError(f"--task_args {what}: unknown {name!r} (known: {', '.join(known)})")
    if len(set(names)) != len(names):
        raise UsageError(f"--task_args {what}: {text!r} names one twice")
    return names


class IsqInduction(Task[Options]):
    name = "isq_induction"
    version = "3.0"
    description = "Persona induction in a simulated short-video feed: plain/simple/ISQ, I_avg (Value-Spectrum B2)"
    Options = Options

    def __init__(self, options: Options, ctx):
        super().__init__(options, ctx)
        self._samples: list[Sample] | None = None
        self._corpus: FeedCorpus | None = None
        self._sims: dict[str, FeedSimulator] = {}
        self._images: dict[int, str] = {}
        self._bad: set[int] = set()
        self._personas: dict[str, Persona] = {}
        self.strategies = _names(options.strategies, STRATEGIES, "strategies")
        self.profiles = self._load_profiles()
        self.platforms = _names(options.platforms, list(self.profiles), "platforms")
        if 2 * options.n > options.scrolls:
            raise UsageError(f"--task_args n={options.n} is larger than half of scrolls={options.scrolls}: the first "
                             f"and last n scrolls of Eq. 1 must not overlap")
        self._strategy = {s: Strategy(s, options.answer, options.isq_format, options.isq_score, options.threshold,
                                      options.isq_yes_no) for s in self.strategies}

    def _load_profiles(self) -> dict[str, PlatformProfile]:
        raw = dict(PLATFORMS["profiles"])
        if self.options.platform_file:
            path = Path(self.options.platform_file).expanduser()
            try:
                extra = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise UsageError(f"platform_file {path}: {exc}") from None
            extra = extra.get("profiles", extra) if isinstance(extra, dict) else None
            if not isinstance(extra, dict):
                raise UsageError(f"platform_file {path}: expected a mapping name -> profile parameters")
            raw.update(extra)
        profiles = {}
        for name, params in raw.items():
            try:
                profiles[name] = PlatformProfile.model_validate(params)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "(profile)"
                raise UsageError(f"platform profiles: {name}.{where}: {err['msg']}") from None
        return profiles

    # -- identity -------------------------------------------------------------------------------------
    def prompt_set(self) -> dict[str, Any]:
        o = self.options
        return {"version": PROMPTS["version"], "prompts": PROMPTS, "strategies": self.strategies,
                "answer": o.answer, "isq_format": o.isq_format, "isq_score": o.isq_score, "isq_yes_no": o.isq_yes_no,
                "threshold": o.threshold,
                "platforms": {p: self.profiles[p].model_dump() for p in self.platforms},
                "space": PLATFORMS["space"], "platforms_version": PLATFORMS["version"]}

    def dataset_fingerprint(self) -> str:
        samples = self.samples()
        return stable_hash({"corpus": self._corpus.fingerprint if self._corpus else None,
                            "personas": {k: p.model_dump() for k, p in sorted(self._personas.items())},
                            "trials": [s.id + "=" + s.meta["persona_id"] for s in samples]})

    # -- setup: everything validated and built before any model call ---------------------------------
    @property
    def corpus_spec(self) -> str:
        spec = self.options.corpus or self.ctx.dataset
        if not spec:
            raise UsageError("isq_induction needs a corpus folder: --dataset CORPUS (or --task_args corpus=CORPUS); "
                             "a value_spectrum corpus, or a synthetic one from "
                             "`python -m vbench.tasks.isq_induction.synthetic_corpus --out DIR`")
        return spec

    def _build_feeds(self, corpus: FeedCorpus) -> dict[str, str]:
        cfg = PLATFORMS["space"]
        topics = self.options.topics or (None if cfg["topics"] == "auto" else int(cfg["topics"]))
        vecs = project(corpus.embeddings, int(cfg["pca_dim"]))
        spaces: dict[bytes, Any] = {}
        pools: dict[str, str] = {}
        for platform in self.platforms:
            profile = self.profiles[platform]
            rows, pools[platform] = choose_slice(platform, corpus.platforms, profile.labels, len(corpus),
                                                 self.options.scrolls, self.options.platform_slice)
            if rows.size < self.options.scrolls:
                raise UsageError(f"the corpus has {rows.size} items but a trial shows scrolls={self.options.scrolls} "
                                 f"distinct items; use a bigger corpus or fewer scrolls")
            key = rows.tobytes()
            if key not in spaces:
                spaces[key] = build_space(platform if pools[platform] == "platform" else "all", rows, vecs[rows],
                                          topics, seed=0, kmeans_iter=int(cfg["kmeans_iter"]),
                                          points_per_topic=int(cfg["kmeans_points_per_topic"]))
            self._sims[platform] = FeedSimulator(spaces[key], profile, self.options.scrolls)
        return pools

    def samples(self) -> list[Sample]:
        if self._samples is not None:
            return self._samples
        personas = load_personas(self.options.personas)
        corpus = load_feed_corpus(self.corpus_spec)
        pools = self._build_feeds(corpus)
        self._corpus, self._personas = corpus, {p.id: p for p in personas}
        pool_values = {p: corpus.values[self._sims[p].space.items] for p in self.platforms}
        supply = pool_supply(personas, pool_values, self.options.scrolls, self.options.n)
        chosen, excluded = self._choose_personas(personas, supply)
        samples = []
        for platform in self.platforms:
            sim = self._sims[platform]
            for strategy in self.strategies:
                for t, persona in enumerate(chosen):
                    s = next(x for x in supply[persona.id] if x.platform == platform)
                    samples.append(Sample(id=f"{platform}/{strategy}/t{t:03d}", meta={
                        "platform": platform, "strategy": strategy, "trial": t, "persona_id": persona.id,
                        "persona_values": persona.values, "persona_traits": persona.traits, "pool": pools[platform],
                        "topics": sim.space.n_topics, "base_alignment": s.liked / s.pool,
                        "liked_items": s.liked, "pool_items": s.pool, "supply": s.status,
                        "personas_excluded": excluded}))
        self._samples = samples
        return samples

    def _choose_personas(self, personas: list[Persona], supply: dict[str, list[Supply]]) -> tuple[list[Persona], int]:
        """The trials' personas; refuses (or, when drawing, leaves out) personas the pools cannot serve."""
        o, need = self.options, f"a trial needs at least n={self.options.n} liked items, ideally scrolls={self.options.scrolls}"
        if o.all_personas:
            chosen = personas[: self.ctx.limit] if self.ctx.limit else personas
            bad = [s for p in chosen for s in supply[p.id] if s.status == "impossible"]
            if bad:
                raise UsageError(f"the corpus cannot supply the design for {len({s.persona for s in bad})} of "
                                 f"{len(chosen)} personas ({need}): {summary(bad)}")
            excluded = 0
        else:
            eligible = [p for p in personas if worst(supply[p.id]) != "impossible"]
            excluded = len(personas) - len(eligible)
            if not eligible:
                bad = [s for p in personas for s in supply[p.id]]
                raise UsageError(f"the corpus cannot supply the design for any of the {len(personas)} personas "
                                 f"({need}): {summary(bad)}; use a bigger corpus or smaller scrolls/n")
            if excluded:
                bad = [s for p in personas for s in supply[p.id] if s.status == "impossible"]
                log.warning("%d of %d personas left out of the draw: the pools cannot supply them (%s): %s",
                            excluded, len(personas), need, summary(bad))
            # one permutation of the whole set, ineligible personas skipped: the others keep their draw
            perm = np.random.default_rng(derive_seed(self.ctx.seed, "isq-personas")).permutation(len(personas))
            ok = {p.id for p in eligible}
            order = [personas[i] for i in perm if personas[i].id in ok]
            chosen = [order[t % len(order)] for t in range(o.trials)]
            chosen = chosen[: self.ctx.limit] if self.ctx.limit else chosen
        marginal = [s for p in {p.id: p for p in chosen}.values() for s in supply[p.id] if s.status == "marginal"]
        if marginal:
            log.warning("%d persona × platform pools are marginal (fewer liked items than scrolls=%d: a feed that "
                        "learns the persona can run out of them and I_avg turns negative): %s",
                        len(marginal), o.scrolls, summary(marginal))
        return chosen, excluded

    # -- one trial ----------------------------------------------------------------------------------------
    def _image(self, feed: FeedTrial, item: int) -> tuple[int, ImagePart]:
        """The item's image in the store; an unreadable one stops the trial, or is re-drawn when skipping."""
        for _ in range(_MAX_REDRAWS):
            if item in self._images:
                return item, ImagePart(image=self._images[item])
            try:
                part = self.ctx.store.put(self._corpus.image(item))
                self._images[item] = part.image
                return item, part
            except ImageError as exc:
                if not self.ctx.skip_bad_samples:
                    raise VbenchError(f"corpus item {self._corpus.ids[item]}: {exc} (fix it, or pass "
                                      f"--skip_bad_samples to have the feed show another item)") from None
                if item not in self._bad:  # listed once, sorted by item id whatever order trials run in
                    self._bad.add(item)
                    self.skipped.append({"sample": f"corpus item {self._corpus.ids[item]}", "reason": str(exc)})
                    self.skipped.sort(key=lambda entry: entry["sample"])
                item = feed.replace_current()
        raise VbenchError(f"{_MAX_REDRAWS} unreadable corpus images in a row; check the corpus images")

    def episode(self, sample: Sample, repeat: int, seed: int):
        meta = sample.meta
        strategy = self._strategy[meta["strategy"]]
        persona = None if strategy.name == "plain" else self._personas[meta["persona_id"]]
        # shared by the three strategies of a (platform, trial, repeat): paired feeds
        feed = self._sims[meta["platform"]].start(
            derive_seed(self.ctx.seed, "isq-feed", meta["platform"], meta["trial"], repeat))
        out: dict[str, Any] = {"items": [], "item_values": [], "watched": [], "scores": [], "parse_failures": 0}
        parts: dict[str, list] = {}
        for _ in range(self.options.scrolls):
            item, image = self._image(feed, feed.next_item())
            responses = yield strategy.requests(image, persona)
            decision = strategy.decide(responses)
            feed.feedback(decision.watch)
            out["items"].append(self._corpus.ids[item])
            out["item_values"].append(VALUES[int(self._corpus.values[item])])
            out["watched"].append(int(decision.watch))
            out["scores"].append(None if decision.score is None else round(decision.score, 4))
            out["parse_failures"] += int(not decision.parse_ok)
            for key, value in decision.parts.items():
                parts.setdefault(key, []).append(None if value is None else round(value, 4))
        if parts:
            out["isq_parts"] = parts
        out["parse_ok"] = out["parse_failures"] == 0
        return out

    # -- results ---------------------------------------------------------------------------------------
    def metrics(self, records: list[Record]) -> dict[str, Any]:
        """A pure function of the options and the records (each record carries its trial's design facts)."""
        m = feed_metrics.compute_metrics(records, self.options.n)
        m["design"] = feed_metrics.design_block(records, self.platforms, self.strategies, self.options.scrolls)
        return m

    def artifacts(self, records: list[Record], out_dir: Path) -> list[str]:
        return write_curves(records, out_dir, self.options.plot_window)

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any]):
        return feed_metrics.summary_rows(metrics)
