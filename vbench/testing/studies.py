"""Seeded simulated studies with known truth, to measure the coverage of vbench's intervals.

Each study draws persona images with random effects, builds the same objects a run stores (ultimatum
``Transcript``s with outcomes, aggressiveness ``Record``s) and calls the tasks' own metric functions,
so a coverage figure measures the shipped code, not a copy of its formulas. Designs follow the real
ones: pair = 7 levels × k images, all ordered pairs (self-pairs included) × repeats × 4 rounds, where an
image shifts offers both as proposer (u) and as opponent (v), correlated; solo = images × 2 orders ×
repeats against the scripted confederate; rating = images × repeats with human ratings.
These are NOT model outputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from vbench.tasks.aggressiveness_rating.metrics import compute_metrics as rating_metrics
from vbench.tasks.ultimatum.metrics import compute_metrics as ultimatum_metrics
from vbench.tasks.ultimatum.transcripts import Outcome, PlayerInfo, Players, Transcript, scheduled_proposer
from vbench.types import Record


@dataclass(frozen=True)
class Design:
    levels: int = 7
    per_level: int = 5
    repeats: int = 5
    base: float = 58.0          # mean offer (levels are balanced around the middle level)
    own_slope: float = 2.0      # offer per own level
    opp_slope: float = -1.5     # offer per opponent level
    sd_proposer: float = 5.0    # image effect as proposer
    sd_opponent: float = 4.0    # image effect as opponent
    rho: float = 0.6            # correlation of an image's two effects
    sd_game: float = 3.0
    sd_round: float = 6.0


def _images(rng: np.random.Generator, d: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    levels = np.repeat(np.arange(1, d.levels + 1), d.per_level)
    cov = [[d.sd_proposer ** 2, d.rho * d.sd_proposer * d.sd_opponent],
           [d.rho * d.sd_proposer * d.sd_opponent, d.sd_opponent ** 2]]
    eff = rng.multivariate_normal([0.0, 0.0], cov, size=levels.size)
    return levels, eff[:, 0], eff[:, 1]


def _player(i: int, level: int) -> PlayerInfo:
    return PlayerInfo(model="sim", image_id=f"img{i:03d}", level=int(level))


def _clip(x: float) -> float:
    return float(min(100.0, max(0.0, x)))


def _accepts(rng: np.random.Generator, offered: float) -> bool:
    return bool(rng.random() < 1 / (1 + np.exp(-(offered - 35.0) / 6.0)))


def pair_study(seed: int, d: Design = Design()) -> tuple[list[Transcript], dict[str, float]]:
    """All ordered pairs of the design's images × repeats; returns transcripts and the true values."""
    rng = np.random.default_rng(seed)
    levels, u, v = _images(rng, d)
    mid = (d.levels + 1) / 2
    games = []
    for i in range(levels.size):
        for j in range(levels.size):
            for r in range(d.repeats):
                game = rng.normal(0, d.sd_game)
                outcomes = []
                for rnd in range(1, 5):
                    p, q = (i, j) if rnd % 2 else (j, i)
                    offer = _clip(d.base + d.own_slope * (levels[p] - mid) + d.opp_slope * (levels[q] - mid)
                                  + u[p] + v[q] + game + rng.normal(0, d.sd_round))
                    outcomes.append(Outcome(round=rnd, proposer="a" if rnd % 2 else "b", offer=offer,
                                            accepted=_accepts(rng, 100 - offer), extractor="sim"))
                games.append(Transcript(game_id=f"{i}~{j}#{r}", study="pair", turns=[], outcomes=outcomes,
                                        players=Players(a=_player(i, levels[i]), b=_player(j, levels[j]))))
    return games, {"own_slope": d.own_slope, "opp_slope": d.opp_slope, "mean_offer": d.base}


def solo_study(seed: int, d: Design = Design()) -> tuple[list[Transcript], dict[str, float]]:
    """Every image × both orders × repeats against the confederate (50/50, then 75/25)."""
    rng = np.random.default_rng(seed)
    levels, u, _ = _images(rng, d)
    mid = (d.levels + 1) / 2
    games = []
    for i in range(levels.size):
        for order, seat in (("first", "a"), ("second", "b")):
            for r in range(d.repeats):
                game = rng.normal(0, d.sd_game)
                outcomes = []
                for rnd in range(1, 5):
                    proposer = scheduled_proposer(rnd)
                    if proposer == seat:
                        offer = _clip(d.base + d.own_slope * (levels[i] - mid) + u[i] + game + rng.normal(0, d.sd_round))
                        outcomes.append(Outcome(round=rnd, proposer=proposer, offer=offer, accepted=True, extractor="sim"))
                    else:
                        conf = 50.0 if rnd <= 2 else 75.0
                        outcomes.append(Outcome(round=rnd, proposer=proposer, offer=conf,
                                                accepted=_accepts(rng, 100 - conf), extractor="sim"))
                conf_info = PlayerInfo(kind="confederate", model="confederate")
                seats = {seat: _player(i, levels[i]), "b" if seat == "a" else "a": conf_info}
                games.append(Transcript(game_id=f"{i}/{order}#{r}", study="solo", turns=[], outcomes=outcomes,
                                        players=Players(**seats)))
    return games, {"own_slope": d.own_slope, "mean_offer": d.base}


@dataclass(frozen=True)
class RatingDesign:
    images: int = 35
    repeats: int = 3
    loading_human: float = 1.0
    sd_human: float = 0.7       # rater noise left in an image's mean human rating
    loading_model: float = 1.2
    sd_model_image: float = 0.8  # the model's image-specific view, shared by its repeats
    sd_repeat: float = 0.6       # repeat-to-repeat variation of the sampled rating


def _rating_draw(rng: np.random.Generator, d: RatingDesign, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Human rating per image and sampled 1–7 rating per image × repeat."""
    latent = rng.normal(size=n)
    human = 4 + d.loading_human * latent + rng.normal(0, d.sd_human, n)
    model = 4 + d.loading_model * latent + rng.normal(0, d.sd_model_image, n)
    sampled = np.clip(np.rint(model[:, None] + rng.normal(0, d.sd_repeat, (n, d.repeats))), 1, 7)
    return human, sampled


@lru_cache(maxsize=8)
def rating_truth(d: RatingDesign = RatingDesign(), n: int = 400_000, seed: int = 12345) -> float:
    """Population r between an image's rating averaged over the design's repeats and its human rating."""
    human, sampled = _rating_draw(np.random.default_rng(seed), d, n)
    return float(np.corrcoef(sampled.mean(axis=1), human)[0, 1])


def rating_study(seed: int, d: RatingDesign = RatingDesign()) -> list[Record]:
    """aggressiveness_rating records (sampled scoring) of images × repeats."""
    human, sampled = _rating_draw(np.random.default_rng(seed), d, d.images)
    return [Record(task="aggressiveness_rating", episode_id=f"img{i:03d}#{r}", index=i, repeat=r,
                   sample={"image": f"sha-{i:03d}", "human_rating": float(human[i])},
                   outputs={"answer": str(int(sampled[i, r])), "rating": int(sampled[i, r]), "parse_ok": True})
            for i in range(d.images) for r in range(d.repeats)]


def _covers(mv: dict[str, Any], truth: float) -> bool | None:
    lo, hi = mv.get("ci_low"), mv.get("ci_high")
    return None if lo is None or hi is None else bool(lo <= truth <= hi)


def pair_coverage(seed: int, d: Design = Design()) -> dict[str, bool | None]:
    games, truth = pair_study(seed, d)
    m = ultimatum_metrics(games, "pair")
    k = m["kiss_up_kick_down"]
    return {"pair own-level slope": _covers(k["own_level"], truth["own_slope"]),
            "pair opponent-level slope": _covers(k["opponent_level"], truth["opp_slope"]),
            "pair mean offer": _covers(m["mean_offer"], truth["mean_offer"])}


def solo_coverage(seed: int, d: Design = Design()) -> dict[str, bool | None]:
    games, truth = solo_study(seed, d)
    m = ultimatum_metrics(games, "solo")
    return {"solo slope": _covers(m["offer_level_slope"], truth["own_slope"]),
            "solo mean offer": _covers(m["mean_offer"], truth["mean_offer"])}


def rating_coverage(seed: int, d: RatingDesign = RatingDesign(), truth: float | None = None) -> dict[str, bool | None]:
    m = rating_metrics(rating_study(seed, d))
    return {"aggressiveness-human r": _covers(m["pearson_human_rating"], rating_truth(d) if truth is None else truth)}
