"""What the viewer filters and searches on, read from one samples record of any task.

Reads records as plain dicts and tolerates missing keys, so an older-schema or foreign record still
gets an entry (with fewer facets) instead of breaking the index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Facets:
    episode_id: str
    status: str
    parse_fail: bool = False
    levels: list[str] = field(default_factory=list)
    value: str = ""
    keyword: str = ""
    rounds: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # "r{round}:{counter|reject|nonanswer}"
    disagreement: float | None = None
    text: str = ""


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def model_rating(outputs: dict[str, Any]) -> float | None:
    """The model's rating as the task scores it: expected rating (choice) else the sampled one."""
    return _num(outputs.get("expected_rating")) if _num(outputs.get("expected_rating")) is not None \
        else _num(outputs.get("rating"))


def round_flags(outcome: dict[str, Any]) -> list[str]:
    flags = []
    if outcome.get("counter_proposal"):
        flags.append("counter")
    if outcome.get("accepted") is False:
        flags.append("reject")
    if outcome.get("offer_nonanswer") or outcome.get("response_nonanswer"):
        flags.append("nonanswer")
    return flags


def _texts(rec: dict[str, Any]) -> list[str]:
    out = [str(rec.get("episode_id", "")), str(rec.get("error") or "")]
    for t in rec.get("turns") or []:
        if isinstance(t, dict):
            out += [str(t.get("prompt") or ""), str(t.get("response") or "")]
    for v in (rec.get("sample") or {}).values():
        if isinstance(v, str) and len(v) < 200:
            out.append(v)
    outputs = rec.get("outputs") or {}
    for key in ("caption", "caption_answer"):
        if isinstance(outputs.get(key), str):
            out.append(outputs[key])
    for f in outputs.get("followups") or []:
        if isinstance(f, dict):
            out.append(str(f.get("answer") or ""))
    return [t for t in out if t]


def dict_field(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` if it is a JSON object, else an empty one (records of older or failed runs lack fields)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def facets_of(task: str, rec: dict[str, Any]) -> Facets:
    outputs, sample = dict_field(rec, "outputs"), dict_field(rec, "sample")
    f = Facets(episode_id=str(rec.get("episode_id", "")), status=str(rec.get("status") or "ok"),
               parse_fail=outputs.get("parse_ok") is False, text="\n".join(_texts(rec)))
    transcript = outputs.get("transcript")
    if isinstance(transcript, dict):
        players = transcript.get("players") or {}
        f.levels = sorted({str(p["level"]) for p in players.values() if isinstance(p, dict) and p.get("level")})
        f.rounds = sorted({str(t.get("round")) for t in transcript.get("turns") or [] if isinstance(t, dict)})
        for o in transcript.get("outcomes") or []:
            if isinstance(o, dict):
                f.flags += [f"r{o.get('round')}:{x}" for x in round_flags(o)]
                f.parse_fail = f.parse_fail or bool(o.get("offer_nonanswer") or o.get("response_nonanswer"))
    if task == "aggressiveness_rating" or "human_rating" in sample:
        human, model = _num(sample.get("human_rating")), model_rating(outputs)
        if human is not None:
            f.levels = [str(round(human))]
            if model is not None:
                f.disagreement = abs(model - human)
    if isinstance(sample.get("value"), str):
        f.value = sample["value"]
        f.keyword = str(sample.get("keyword") or "")
    elif isinstance(sample.get("persona_values"), list) and sample["persona_values"]:
        f.value = str(sample["persona_values"][0])
    if isinstance(outputs.get("parse_failures"), int):
        f.parse_fail = outputs["parse_failures"] > 0
    return f
