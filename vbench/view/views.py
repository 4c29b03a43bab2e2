"""Per-task view models: plain dicts the templates draw, built from one samples record (any schema age).

Nothing here formats HTML; templates escape everything they print.
"""
from __future__ import annotations

from typing import Any

from vbench.view.facets import dict_field, model_rating, round_flags

OLD_SCHEMA_NOTE = ("this record predates full-conversation logging: only the last user message of each "
                   "request was kept (no system prompt or earlier turns)")


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def conversation(rec: dict[str, Any], turn: int) -> list[dict[str, Any]] | None:
    """The complete messages of one turn, references resolved: [{role, parts: [{text}|{image}]}]."""
    turns, table = rec.get("turns") or [], rec.get("messages")
    refs = turns[turn].get("messages") if turn < len(turns) and isinstance(turns[turn], dict) else None
    if refs is None or not isinstance(table, list):
        return None
    out = []
    for i in refs:
        m: dict[str, Any] = table[i] if isinstance(i, int) and 0 <= i < len(table) else {"role": "?", "content": []}
        parts: list[dict[str, Any]] = []
        for p in m.get("content") or []:
            if p.get("type") == "turn":
                k = p.get("turn")
                said = turns[k].get("response") if isinstance(k, int) and 0 <= k < len(turns) else None
                parts.append({"text": said or "", "ref": k})
            elif p.get("type") == "image":
                parts.append({"image": p.get("image", "")})
            else:
                parts.append({"text": p.get("text", "")})
        out.append({"role": m.get("role", "?"), "parts": parts})
    return out


def turns_view(rec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, t in enumerate(rec.get("turns") or []):
        if not isinstance(t, dict):
            continue
        probs = t.get("probs") if isinstance(t.get("probs"), dict) else None
        out.append({"i": i, "step": t.get("step"), "role": t.get("role"), "kind": t.get("kind"),
                    "prompt": t.get("prompt") or "", "images": t.get("images") or [],
                    "response": t.get("response"), "probs": prob_bars(probs) if probs else [],
                    "method": t.get("method"), "cached": t.get("cached"), "messages": conversation(rec, i)})
    return out


def prob_bars(probs: dict[str, Any]) -> list[dict[str, Any]]:
    vals = {str(k): _num(v) or 0.0 for k, v in probs.items()}
    top = max(vals.values(), default=0.0)
    return [{"label": k, "p": v, "w": round(100 * v / top) if top > 0 else 0, "top": v == top and top > 0}
            for k, v in vals.items()]


def missing_fields(rec: dict[str, Any]) -> list[str]:
    notes = []
    turns = [t for t in rec.get("turns") or [] if isinstance(t, dict)]
    if turns and any(t.get("messages") is None for t in turns):
        notes.append(OLD_SCHEMA_NOTE)
    for key in ("outputs", "sample"):
        if key not in rec:
            notes.append(f"no `{key}` field in this record")
    return notes


def base(rec: dict[str, Any]) -> dict[str, Any]:
    outputs, sample = dict_field(rec, "outputs"), dict_field(rec, "sample")
    return {"ord": rec.get("_ord", 0), "episode_id": str(rec.get("episode_id", "")), "status": rec.get("status", "ok"),
            "error": rec.get("error"), "outputs": outputs, "sample": sample, "repeat": rec.get("repeat"),
            "seed": rec.get("seed"), "parse_ok": outputs.get("parse_ok"), "missing": missing_fields(rec)}


def rating_view(rec: dict[str, Any]) -> dict[str, Any]:
    v = base(rec)
    o, s = v["outputs"], v["sample"]
    human, model = _num(s.get("human_rating")), model_rating(o)
    v.update(kind="rating", image=s.get("image"), human=human, rating=_num(o.get("rating")),
             expected=_num(o.get("expected_rating")), answer=o.get("answer"),
             probs=prob_bars(o["probs"]) if isinstance(o.get("probs"), dict) else [],
             disagreement=abs(model - human) if human is not None and model is not None else None,
             factors={k: s[k] for k in ("weapon", "smile", "teeth", "covered_face", "black_clothes", "white_clothes")
                      if k in s})
    return v


def ultimatum_view(rec: dict[str, Any], focus_round: str = "") -> dict[str, Any]:
    v = base(rec)
    t = dict_field(v["outputs"], "transcript")
    players = t.get("players") or {}
    seats = []
    for key in ("a", "b"):
        p = players.get(key) or {}
        seats.append({"key": key, "kind": p.get("kind", "model"), "model": p.get("model"), "image": p.get("image"),
                      "image_id": p.get("image_id"), "level": p.get("level"), "rating": p.get("rating"),
                      "proposes": "rounds 1 and 3" if key == "a" else "rounds 2 and 4"})
    outcomes = {o.get("round"): o for o in t.get("outcomes") or [] if isinstance(o, dict)}
    rounds: list[dict[str, Any]] = []
    for turn in t.get("turns") or []:
        if not isinstance(turn, dict):
            continue
        rnd = turn.get("round")
        if focus_round and str(rnd) != focus_round:
            continue
        if not rounds or rounds[-1]["round"] != rnd:
            o = outcomes.get(rnd) or {}
            rounds.append({"round": rnd, "turns": [], "offer": o.get("offer"), "accepted": o.get("accepted"),
                           "proposer": o.get("proposer"), "flags": round_flags(o) if o else [],
                           "extractor": o.get("extractor"), "extracted": bool(o)})
        rounds[-1]["turns"].append({"player": turn.get("player"), "role": turn.get("role"), "text": turn.get("text")})
    v.update(kind="ultimatum", seats=seats, rounds=rounds, study=t.get("study"),
             no_transcript=not t)
    return v


def value_view(rec: dict[str, Any]) -> dict[str, Any]:
    v = base(rec)
    o, s = v["outputs"], v["sample"]
    v.update(kind="value", image=s.get("image"), value=s.get("value"), keyword=s.get("keyword"),
             platform=s.get("platform"), answer=o.get("answer"), yes=o.get("interested"),
             p_yes=_num(o.get("p_yes")), followups=[f for f in o.get("followups") or [] if isinstance(f, dict)],
             caption=o.get("caption"), caption_answer=o.get("caption_answer"), caption_yes=o.get("caption_interested"),
             caption_p_yes=_num(o.get("caption_p_yes")))
    return v


def isq_view(rec: dict[str, Any]) -> dict[str, Any]:
    v = base(rec)
    o, s = v["outputs"], v["sample"]
    targets = set(s.get("persona_values") or [])
    images = _scroll_images(rec)
    scrolls: list[dict[str, Any]] = []
    aligned = 0
    watched, values, scores = o.get("watched") or [], o.get("item_values") or [], o.get("scores") or []
    for i, w in enumerate(watched):
        val = values[i] if i < len(values) else None
        aligned += int(val in targets)
        scrolls.append({"n": i + 1, "watch": bool(w), "value": val, "target": val in targets,
                        "score": scores[i] if i < len(scores) else None,
                        "image": images[i] if i < len(images) else None,
                        "item": (o.get("items") or [None] * (i + 1))[i] if i < len(o.get("items") or []) else None})
    curve = _curve([sc["target"] for sc in scrolls])
    v.update(kind="isq", platform=s.get("platform"), strategy=s.get("strategy"), trial=s.get("trial"),
             persona=s.get("persona_id"), persona_values=sorted(targets), traits=s.get("persona_traits") or [],
             scrolls=scrolls, parts=_parts(o.get("isq_parts")),
             curve=curve, watch_rate=(sum(1 for x in scrolls if x["watch"]) / len(scrolls)) if scrolls else None)
    return v


def _parts(parts: Any) -> list[dict[str, Any]]:
    """ISQ sub-scores: one row per dimension, its per-scroll scores and their mean."""
    rows = []
    for name, vals in (parts.items() if isinstance(parts, dict) else []):
        nums = [x for x in (vals if isinstance(vals, list) else [vals]) if _num(x) is not None]
        rows.append({"name": str(name).replace("_", " "), "nums": nums,
                     "mean": sum(nums) / len(nums) if nums else None})
    return rows


def _scroll_images(rec: dict[str, Any]) -> list[str]:
    """One screenshot per scroll: the image of each step's first request."""
    seen: dict[Any, str] = {}
    for t in rec.get("turns") or []:
        if isinstance(t, dict) and t.get("images") and t.get("step") not in seen:
            seen[t.get("step")] = t["images"][-1]
    return [seen[k] for k in sorted(seen, key=lambda x: x if isinstance(x, int) else 0)]


def _curve(flags: list[bool], w: int = 300, h: int = 80) -> dict[str, Any]:
    """Running share of scrolls whose item carries a persona value, as SVG polyline points."""
    if not flags:
        return {"points": "", "w": w, "h": h, "last": None}
    pts, hits = [], 0
    for i, f in enumerate(flags, 1):
        hits += int(f)
        x = (i - 1) / max(1, len(flags) - 1) * (w - 10) + 5
        y = h - 5 - (hits / i) * (h - 10)
        pts.append(f"{x:.1f},{y:.1f}")
    return {"points": " ".join(pts), "w": w, "h": h, "last": hits / len(flags)}


VIEWS = {"aggressiveness_rating": rating_view, "ultimatum_solo": ultimatum_view, "ultimatum_pair": ultimatum_view,
         "value_spectrum": value_view, "isq_induction": isq_view}


def view_of(task: str, rec: dict[str, Any], focus_round: str = "") -> dict[str, Any]:
    fn = VIEWS.get(task)
    if fn is ultimatum_view:
        return ultimatum_view(rec, focus_round)
    if fn is None:
        v = base(rec)
        v["kind"] = "generic"
        return v
    return fn(rec)
