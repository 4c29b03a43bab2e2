"""Metrics of both studies, computed from transcripts alone (eval and `vbench analyze` share this).

Offers are always the proposer's own share. Only model seats are measured (the confederate's turns are
context). Language measures are averaged per player and game first (turns of one game are not
independent), then over players. Every CI uses bootstrap seed 0, so re-analysing a run's transcripts
reproduces its results.json exactly.
"""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from typing import Any, Iterable, Literal

from vbench.analysis import stats
from vbench.analysis.text import PRONOUN_GROUPS, text_measures
from vbench.tasks.ultimatum.transcripts import Transcript

SEED = 0


def _mv(values) -> dict[str, Any]:
    return stats.mean(values, seed=SEED).model_dump()


def _rate(flags) -> dict[str, Any]:
    return stats.rate(flags, seed=SEED).model_dump()


def _grouped(keys: Iterable[Any], values: Iterable[Any], agg=_mv) -> dict[str, Any]:
    groups: dict[Any, list] = defaultdict(list)
    for k, v in zip(keys, values):
        if k is not None:
            groups[k].append(v)
    return {_key(k): agg(groups[k]) for k in sorted(groups)}


def _key(k: Any) -> str:
    return str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)


def _coef(fit: dict[str, Any], name: str) -> dict[str, Any]:
    c = fit.get("coef", {}).get(name)
    if not c:
        return stats.MetricValue(value=None, n=fit.get("n", 0), extra={"reason": fit.get("reason", "not estimable")}).model_dump()
    return stats.MetricValue(value=c["b"], ci_low=c["ci_low"], ci_high=c["ci_high"], n=fit["n"],
                             extra={"se": c["se"], "p": c["p"]}).model_dump()


def _f(x: bool | None) -> float | None:
    return None if x is None else float(x)


class _Rounds:
    """Column view of all rounds: proposer-side and responder-side fields."""

    def __init__(self, transcripts: list[Transcript]):
        cols = ("game", "round", "p_kind", "r_kind", "p_level", "r_level", "p_image", "r_image", "p_model", "r_model",
                "offer", "accepted", "counter")
        self.c: dict[str, list] = {k: [] for k in cols}
        for t in transcripts:
            for o in t.outcomes:
                p = t.players.seat(o.proposer)
                r = t.players.seat("b" if o.proposer == "a" else "a")
                for k, v in zip(cols, (t.game_id, o.round, p.kind, r.kind, p.level, r.level, p.image_id or p.image,
                                       r.image_id or r.image, p.model, r.model, o.offer, o.accepted, o.counter_proposal)):
                    self.c[k].append(v)

    def select(self, side: Literal["p", "r"]) -> dict[str, list]:
        """Rounds where the proposer (p) or the responder (r) is a model."""
        keep = [i for i, k in enumerate(self.c[f"{side}_kind"]) if k == "model"]
        return {k: [v[i] for i in keep] for k, v in self.c.items()}


def _offer_metrics(P: dict[str, list], R: dict[str, list], study: str) -> dict[str, Any]:
    m: dict[str, Any] = {}
    m["mean_offer"] = _mv(P["offer"])
    m["acceptance_rate"] = _rate(R["accepted"])
    m["offer_by_round"] = _grouped(P["round"], P["offer"])
    m["acceptance_by_round"] = _grouped(R["round"], R["accepted"], _rate)
    m["offer_by_level"] = _grouped(P["p_level"], P["offer"])
    m["acceptance_by_level"] = _grouped(R["r_level"], R["accepted"], _rate)
    accepted01 = [_f(a) for a in R["accepted"]]
    if study == "solo":
        m["acceptance_of_confederate_offer"] = _grouped(R["offer"], R["accepted"], _rate)
        m["ols_offer"] = stats.ols(P["offer"], {"own_level": P["p_level"]}, clusters=P["p_image"])
        m["ols_acceptance"] = stats.ols(accepted01, {"own_level": R["r_level"], "offer": R["offer"]},
                                        clusters=R["r_image"])
        m["offer_level_slope"] = _coef(m["ols_offer"], "own_level")
    else:
        m["offer_by_opponent_level"] = _grouped(P["r_level"], P["offer"])
        cells: dict[tuple, list] = defaultdict(list)
        for own, opp, offer in zip(P["p_level"], P["r_level"], P["offer"]):
            if own is not None and opp is not None and offer is not None:
                cells[(own, opp)].append(offer)
        matrix: dict[str, dict[str, float]] = {}
        for (own, opp) in sorted(cells):
            matrix.setdefault(str(own), {})[str(opp)] = sum(cells[(own, opp)]) / len(cells[(own, opp)])
        m["offer_matrix"] = matrix
        m["ols_offer"] = stats.ols(P["offer"], {"own_level": P["p_level"], "opponent_level": P["r_level"]},
                                   clusters=P["p_image"])
        m["kiss_up_kick_down"] = {"own_level": _coef(m["ols_offer"], "own_level"),
                                  "opponent_level": _coef(m["ols_offer"], "opponent_level")}
        offered = [None if o is None else 100 - o for o in R["offer"]]
        m["ols_acceptance"] = stats.ols(accepted01, {"own_level": R["r_level"], "opponent_level": R["p_level"],
                                                     "offered_share": offered}, clusters=R["r_image"])
    return m


def _language(transcripts: list[Transcript], study: str) -> dict[str, Any]:
    """Pronoun counts and VADER sentiment per model turn, averaged per player-game, by own level."""
    keys, texts = [], []
    for gi, t in enumerate(transcripts):
        for turn in t.turns:
            if t.players.seat(turn.player).kind == "model" and turn.text:
                keys.append((gi, turn.player))
                texts.append(turn.text)
    pron = text_measures(texts)
    sent = pron["sentiment"]
    acc: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for i, k in enumerate(keys):
        for g in PRONOUN_GROUPS:
            acc[k][g].append(pron[g][i])
        if sent[i] is not None:
            acc[k]["sentiment"].append(sent[i])
    units = sorted(acc)
    level = [transcripts[g].players.seat(s).level for g, s in units]
    opp_level = [transcripts[g].players.seat("b" if s == "a" else "a").level for g, s in units]
    image = [transcripts[g].players.seat(s).image_id or transcripts[g].players.seat(s).image for g, s in units]

    def per_unit(name: str) -> list[float | None]:
        return [sum(acc[u][name]) / len(acc[u][name]) if acc[u][name] else None for u in units]

    out: dict[str, Any] = {"n_turns": len(texts), "n_player_games": len(units), "pronouns_per_turn": {}}
    for g in PRONOUN_GROUPS:
        vals = per_unit(g)
        out["pronouns_per_turn"][g] = {"all": _mv(vals), "by_level": _grouped(level, vals)}
    s = per_unit("sentiment")
    out["sentiment"] = {"all": _mv(s), "by_level": _grouped(level, s)}
    X: dict[str, list] = {"own_level": level}
    if study == "pair":
        X["opponent_level"] = opp_level
    out["ols_sentiment"] = stats.ols(s, X, clusters=image)
    we, i_, you = (per_unit(g) for g in ("we", "i", "you"))
    share = [None if (w or 0) + (a or 0) + (y or 0) == 0 else w / (w + a + y) for w, a, y in zip(we, i_, you)]
    out["we_share"] = {"all": _mv(share), "by_level": _grouped(level, share)}
    return out


def _finite(obj: Any) -> Any:
    """NaN/inf (e.g. R² of a constant outcome) → None, so the block is strict JSON and compares equal."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def compute_metrics(transcripts: list[Transcript], study: Literal["solo", "pair"]) -> dict[str, Any]:
    """The metrics block of an eval run / `vbench analyze`, from transcripts with outcomes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # statsmodels on constant outcomes
        return _finite(_compute(transcripts, study))


def _compute(transcripts: list[Transcript], study: Literal["solo", "pair"]) -> dict[str, Any]:
    rounds = _Rounds(transcripts)
    P, R = rounds.select("p"), rounds.select("r")
    m: dict[str, Any] = {"study": study, "n_games": len(transcripts)}
    m["extraction"] = {
        "offer_coverage": _rate([o is not None for o in P["offer"]]),
        "acceptance_coverage": _rate([a is not None for a in R["accepted"]]),
        "games_usable": _rate([t.model_turns_usable() for t in transcripts]),
        "counter_proposal_rate": _rate(R["counter"]),
        "extractors": sorted({o.extractor for t in transcripts for o in t.outcomes}),
    }
    m.update(_offer_metrics(P, R, study))
    m["language"] = _language(transcripts, study)
    models = sorted({p.model or "?" for t in transcripts for p in (t.players.a, t.players.b) if p.kind == "model"})
    if len(models) > 1:
        m["by_model"] = {}
        for name in models:
            pm = [i for i, x in enumerate(P["p_model"]) if (x or "?") == name]
            rm = [i for i, x in enumerate(R["r_model"]) if (x or "?") == name]
            sub_p = {k: [v[i] for i in pm] for k, v in P.items()}
            sub_r = {k: [v[i] for i in rm] for k, v in R.items()}
            part = _offer_metrics(sub_p, sub_r, study)
            m["by_model"][name] = {k: part[k] for k in ("mean_offer", "acceptance_rate", "offer_by_level", "ols_offer")
                                   + (("kiss_up_kick_down",) if study == "pair" else ("offer_level_slope",))}
    return m


def summary_rows(metrics: dict[str, Any]):
    """Headline numbers for the terminal table."""
    yield "mean_offer (own share)", metrics["mean_offer"]
    yield "acceptance_rate", metrics["acceptance_rate"]
    for k, v in metrics.get("acceptance_of_confederate_offer", {}).items():
        yield f"accepts confederate {k}/{100 - float(k):g}", v
    if "offer_level_slope" in metrics:
        yield "offer ~ own level (slope)", metrics["offer_level_slope"]
    for k, v in metrics.get("kiss_up_kick_down", {}).items():
        yield f"offer ~ {k} (slope)", v
    yield "sentiment (VADER compound)", metrics["language"]["sentiment"]["all"]
    yield "offer extraction coverage", metrics["extraction"]["offer_coverage"]
    yield "answer extraction coverage", metrics["extraction"]["acceptance_coverage"]
