"""Metrics of both studies, computed from transcripts alone (eval and `vbench analyze` share this).

Offers are always the proposer's own share. Only model seats are measured (the confederate's turns are
context). Language measures are averaged per player and game first (turns of one game are not
independent), then over players. The unit of analysis is the persona image: rounds and repeats of one
image are resampled together (solo), and in the pair study every game belongs to two images of one pool,
so intervals resample the pool (pigeonhole bootstrap) and OLS SEs come from a delete-one-image jackknife
(an image leaves in both roles). Bootstrap seeds are fixed (``stats.BOOTSTRAP_SEED``), so re-analysing a
run's transcripts reproduces its results.json exactly and the run's ``--seed`` never changes an interval.
"""
from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Literal, Mapping, Sequence

import numpy as np

from vbench.analysis import stats
from vbench.analysis.inputs import Keys, Values
from vbench.analysis.text import PRONOUN_GROUPS, text_measures
from vbench.tasks.ultimatum.transcripts import PlayerInfo, Transcript

SEED = stats.BOOTSTRAP_SEED


@dataclass(frozen=True)
class Unit:
    """The study's unit of analysis: how per-observation keys enter means, rates and OLS.

    Solo keys are persona images (one-way clusters); pair keys are (own image, other image) pairs from
    one pool (crossed: pigeonhole bootstrap, OLS SEs by delete-one-image jackknife).
    """

    study: Literal["solo", "pair"]
    label: str

    def mean(self, values: Values, keys: Keys) -> dict[str, Any]:
        if self.study == "pair":
            return stats.mean(values, crossed=keys, unit=self.label, seed=SEED).model_dump()
        return stats.mean(values, keys, unit=self.label, seed=SEED).model_dump()

    def rate(self, flags: Values, keys: Keys) -> dict[str, Any]:
        return self.mean([None if f is None else float(bool(f)) for f in flags], keys)

    def ols(self, y: Values, X: Mapping[str, Values], keys: Keys) -> dict[str, Any]:
        if self.study == "pair":
            return stats.ols(y, X, crossed=keys, unit=self.label)
        return stats.ols(y, X, clusters=keys, unit=self.label)


def persona_key(info: PlayerInfo, game_id: str, seat: str) -> Hashable:
    """The persona image of a seat (id, else content hash); a seat without either is its own persona."""
    return info.image_id or info.image or f"{game_id}/{seat}"


def _unit(transcripts: list[Transcript], study: Literal["solo", "pair"]) -> Unit:
    anonymous = any(not (p.image_id or p.image) for t in transcripts for p in (t.players.a, t.players.b)
                    if p.kind == "model")
    label = "persona image" + (" (proposer x opponent, one pool)" if study == "pair" else "")
    return Unit(study, label + ("; seats without an image id count as their own persona" if anonymous else ""))


def _grouped(groups: Iterable[Any], values: Sequence[Any], keys: np.ndarray,
             agg: Callable[[Values, Keys], dict[str, Any]]) -> dict[str, Any]:
    by: dict[Any, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        if g is not None:
            by[g].append(i)
    return {_key(g): agg([values[i] for i in by[g]], keys[by[g]]) for g in sorted(by)}


class _Coder(dict):
    """Persona keys → integer codes, once per metrics call (the bootstraps take coded keys)."""

    def __call__(self, key: Hashable) -> int:
        return self.setdefault(key, len(self))


def _key(k: Any) -> str:
    return str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)


def _coef(fit: dict[str, Any], name: str) -> dict[str, Any]:
    c = fit.get("coef", {}).get(name)
    if not c:
        return stats.MetricValue(value=None, n=fit.get("n", 0), unit=fit.get("unit"),
                                 extra={"reason": fit.get("reason", "not estimable")}).model_dump()
    return stats.MetricValue(value=c["b"], ci_low=c["ci_low"], ci_high=c["ci_high"], n=fit["n"], unit=fit.get("unit"),
                             n_clusters=fit.get("n_clusters"), method=fit.get("method"),
                             extra={"se": c["se"], "p": c["p"]}).model_dump()


def _f(x: bool | None) -> float | None:
    return None if x is None else float(x)


class _Rounds:
    """Column view of all rounds: proposer-side and responder-side fields, persona keys of both seats."""

    def __init__(self, transcripts: list[Transcript], code: _Coder):
        cols = ("game", "round", "p_kind", "r_kind", "p_level", "r_level", "p_key", "r_key", "p_model", "r_model",
                "offer", "accepted", "counter")
        self.c: dict[str, list] = {k: [] for k in cols}
        for t in transcripts:
            for o in t.outcomes:
                ps, rs = o.proposer, "b" if o.proposer == "a" else "a"
                p, r = t.players.seat(ps), t.players.seat(rs)
                for k, v in zip(cols, (t.game_id, o.round, p.kind, r.kind, p.level, r.level,
                                       code(persona_key(p, t.game_id, ps)), code(persona_key(r, t.game_id, rs)),
                                       p.model, r.model,
                                       o.offer, o.accepted, o.counter_proposal)):
                    self.c[k].append(v)

    def select(self, side: Literal["p", "r"], study: str) -> dict[str, Any]:
        """Rounds where the proposer (p) or the responder (r) is a model: its columns (lists) and, under
        ``keys``, its unit keys (an int array: one code, or two for the pair study)."""
        keep = [i for i, k in enumerate(self.c[f"{side}_kind"]) if k == "model"]
        out: dict[str, Any] = {k: [v[i] for i in keep] for k, v in self.c.items()}
        other = "r" if side == "p" else "p"
        own = np.array(out[f"{side}_key"], dtype=np.int64)
        out["keys"] = (np.column_stack([own, np.array(out[f"{other}_key"], dtype=np.int64)]).reshape(-1, 2)
                       if study == "pair" else own)
        return out


def _offer_metrics(P: dict[str, Any], R: dict[str, Any], unit: Unit) -> dict[str, Any]:
    m: dict[str, Any] = {}
    pk, rk = P["keys"], R["keys"]
    m["mean_offer"] = unit.mean(P["offer"], pk)
    m["acceptance_rate"] = unit.rate(R["accepted"], rk)
    m["offer_by_round"] = _grouped(P["round"], P["offer"], pk, unit.mean)
    m["acceptance_by_round"] = _grouped(R["round"], R["accepted"], rk, unit.rate)
    m["offer_by_level"] = _grouped(P["p_level"], P["offer"], pk, unit.mean)
    m["acceptance_by_level"] = _grouped(R["r_level"], R["accepted"], rk, unit.rate)
    accepted01 = [_f(a) for a in R["accepted"]]
    if unit.study == "solo":
        m["acceptance_of_confederate_offer"] = _grouped(R["offer"], R["accepted"], rk, unit.rate)
        m["ols_offer"] = unit.ols(P["offer"], {"own_level": P["p_level"]}, pk)
        m["ols_acceptance"] = unit.ols(accepted01, {"own_level": R["r_level"], "offer": R["offer"]}, rk)
        m["offer_level_slope"] = _coef(m["ols_offer"], "own_level")
    else:
        m["offer_by_opponent_level"] = _grouped(P["r_level"], P["offer"], pk, unit.mean)
        cells: dict[tuple, list] = defaultdict(list)
        for own, opp, offer in zip(P["p_level"], P["r_level"], P["offer"]):
            if own is not None and opp is not None and offer is not None:
                cells[(own, opp)].append(offer)
        matrix: dict[str, dict[str, float]] = {}
        for (own, opp) in sorted(cells):
            matrix.setdefault(str(own), {})[str(opp)] = sum(cells[(own, opp)]) / len(cells[(own, opp)])
        m["offer_matrix"] = matrix
        m["ols_offer"] = unit.ols(P["offer"], {"own_level": P["p_level"], "opponent_level": P["r_level"]}, pk)
        m["kiss_up_kick_down"] = {"own_level": _coef(m["ols_offer"], "own_level"),
                                  "opponent_level": _coef(m["ols_offer"], "opponent_level")}
        offered = [None if o is None else 100 - o for o in R["offer"]]
        m["ols_acceptance"] = unit.ols(accepted01, {"own_level": R["r_level"], "opponent_level": R["p_level"],
                                                    "offered_share": offered}, rk)
    return m


def _language(transcripts: list[Transcript], unit: Unit, code: _Coder) -> dict[str, Any]:
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
    own = np.array([code(persona_key(transcripts[g].players.seat(s), transcripts[g].game_id, s)) for g, s in units],
                   dtype=np.int64)
    ukeys = own
    if unit.study == "pair":
        other = np.array([code(persona_key(transcripts[g].players.seat(o), transcripts[g].game_id, o))
                          for g, o in ((g, "b" if s == "a" else "a") for g, s in units)], dtype=np.int64)
        ukeys = np.column_stack([own, other]).reshape(-1, 2)

    def per_unit(name: str) -> list[float | None]:
        return [sum(acc[u][name]) / len(acc[u][name]) if acc[u][name] else None for u in units]

    out: dict[str, Any] = {"n_turns": len(texts), "n_player_games": len(units), "pronouns_per_turn": {}}
    for g in PRONOUN_GROUPS:
        vals = per_unit(g)
        out["pronouns_per_turn"][g] = {"all": unit.mean(vals, ukeys),
                                       "by_level": _grouped(level, vals, ukeys, unit.mean)}
    s = per_unit("sentiment")
    out["sentiment"] = {"all": unit.mean(s, ukeys), "by_level": _grouped(level, s, ukeys, unit.mean)}
    X: dict[str, list] = {"own_level": level}
    if unit.study == "pair":
        X["opponent_level"] = opp_level
    out["ols_sentiment"] = unit.ols(s, X, ukeys)
    we, i_, you = (per_unit(g) for g in ("we", "i", "you"))
    share = [None if w is None or a is None or y is None or w + a + y == 0 else w / (w + a + y)
             for w, a, y in zip(we, i_, you)]
    out["we_share"] = {"all": unit.mean(share, ukeys), "by_level": _grouped(level, share, ukeys, unit.mean)}
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


def _game_keys(transcripts: list[Transcript], study: str, code: _Coder) -> np.ndarray:
    """Each game's unit key: its model seat's persona (solo) or the pair of both personas (pair)."""
    a = [code(persona_key(t.players.a, t.game_id, "a")) for t in transcripts]
    b = [code(persona_key(t.players.b, t.game_id, "b")) for t in transcripts]
    if study == "pair":
        return np.column_stack([np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)]).reshape(-1, 2)
    return np.array([x if t.players.a.kind == "model" else y for t, x, y in zip(transcripts, a, b)], dtype=np.int64)


def _compute(transcripts: list[Transcript], study: Literal["solo", "pair"]) -> dict[str, Any]:
    unit = _unit(transcripts, study)
    code = _Coder()
    rounds = _Rounds(transcripts, code)
    P, R = rounds.select("p", study), rounds.select("r", study)
    m: dict[str, Any] = {"study": study, "n_games": len(transcripts), "unit": unit.label}
    m["extraction"] = {
        "offer_coverage": unit.rate([o is not None for o in P["offer"]], P["keys"]),
        "acceptance_coverage": unit.rate([a is not None for a in R["accepted"]], R["keys"]),
        "games_usable": unit.rate([t.model_turns_usable() for t in transcripts],
                                  _game_keys(transcripts, study, code)),
        "counter_proposal_rate": unit.rate(R["counter"], R["keys"]),
        "extractors": sorted({o.extractor for t in transcripts for o in t.outcomes}),
    }
    m.update(_offer_metrics(P, R, unit))
    m["language"] = _language(transcripts, unit, code)
    models = sorted({p.model or "?" for t in transcripts for p in (t.players.a, t.players.b) if p.kind == "model"})
    if len(models) > 1:
        m["by_model"] = {}
        for name in models:
            pm = [i for i, x in enumerate(P["p_model"]) if (x or "?") == name]
            rm = [i for i, x in enumerate(R["r_model"]) if (x or "?") == name]
            sub_p = {k: v[pm] if isinstance(v, np.ndarray) else [v[i] for i in pm] for k, v in P.items()}
            sub_r = {k: v[rm] if isinstance(v, np.ndarray) else [v[i] for i in rm] for k, v in R.items()}
            part = _offer_metrics(sub_p, sub_r, unit)
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
