"""The three ways a model decides watch/skip for one scroll: ``plain``, ``simple`` and ``isq``.

Each strategy turns (screenshot, persona) into the requests of one scroll and their responses into a
Decision. ``choose`` requests (the default) give option distributions: yes/no decisions take the more
likely option; ISQ's 1-10 scales use the expected value (or the most likely answer, ``isq_score=argmax``)
and its yes/no parts (pa, ad) are 0/1 as in the paper, the same on every backend (``isq_yes_no=expected``
uses P(yes) instead, which only log-prob backends can give).
Without distributions (``answer=generate`` or a backend without log-probs) the text is parsed; an
unparseable answer counts as a parse failure and the scroll as a skip (the feed's default when the
viewer does nothing).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal

from vbench.tasks.isq_induction.personas import Persona
from vbench.tasks.prompts import load_prompts
from vbench.types import GenParams, ImagePart, Message, Request, Response

PROMPTS = load_prompts("vbench.tasks.isq_induction")
ISQ_QUESTIONS: dict[str, dict[str, str]] = PROMPTS["isq"]["questions"]
ISQ_KEYS: tuple[str, ...] = tuple(ISQ_QUESTIONS)
YES_NO: tuple[str, ...] = tuple(PROMPTS["yes_no"])
SCALE: tuple[str, ...] = tuple(PROMPTS["scale"])
STRATEGIES = ("plain", "simple", "isq")
_YES_NO_RE = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_SCALE_RE = re.compile(r"(?<![\d.])(10|[1-9])(?!\d|\.\d)")  # "7", "7.", "10/10"; not "3.5"


@dataclass
class Decision:
    watch: bool
    score: float | None                      # P(yes) for plain/simple, S% for isq
    parse_ok: bool = True
    parts: dict[str, float | None] = field(default_factory=dict)


def isq_percent(parts: dict[str, float]) -> float:
    """S% = (va + cs + ee + ve + 10·pa + 10·ad) / 60 × 100 (the paper's composite)."""
    scales = sum(parts[k] for k in ISQ_KEYS if ISQ_QUESTIONS[k]["kind"] == "scale")
    binary = sum(10 * parts[k] for k in ISQ_KEYS if ISQ_QUESTIONS[k]["kind"] == "yes_no")
    return (scales + binary) / 60 * 100


def parse_yes_no(text: str | None) -> float | None:
    m = _YES_NO_RE.search(text or "")
    return None if m is None else float(m.group(1).lower() == "yes")


def parse_scale(text: str | None) -> float | None:
    m = _SCALE_RE.search(text or "")
    return None if m is None else float(m.group(1))


def _p_yes(probs: dict[str, float]) -> float | None:
    yes, no = probs.get("yes", 0.0), probs.get("no", 0.0)
    return yes / (yes + no) if yes + no > 0 else None


def read_yes_no(resp: Response, mode: Literal["expected", "argmax"] = "argmax") -> float | None:
    """P(yes) (expected) or 1/0 for the likelier option (argmax; ties → no); parsed text otherwise."""
    if resp.probs:
        p = _p_yes(resp.probs)
        if p is not None:
            return p if mode == "expected" else float(p > 0.5)
    return parse_yes_no(resp.text)


def read_scale(resp: Response, mode: Literal["expected", "argmax"] = "expected") -> float | None:
    """Expected rating Σ k·P(k) or the likeliest k (ties → lowest) from probs; parsed text otherwise."""
    if resp.probs:
        probs = {k: resp.probs.get(k, 0.0) for k in SCALE}
        total = sum(probs.values())
        if total > 0:
            if mode == "expected":
                return sum(int(k) * p for k, p in probs.items()) / total
            return float(max(SCALE, key=lambda k: (probs[k], -int(k))))
    return parse_scale(resp.text)


def parse_structured(text: str | None) -> dict[str, float | None]:
    """The six ISQ answers from one JSON-ish answer; a missing or invalid entry is None."""
    text = text or ""
    data: dict = {}
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            loaded = json.loads(text[start:end + 1])
            data = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            data = {}
    out: dict[str, float | None] = {}
    for key in ISQ_KEYS:
        raw = data.get(key)
        if raw is None:
            m = re.search(rf'"?{key}"?\s*[:=]\s*"?([A-Za-z0-9]+)', text)
            raw = m.group(1) if m else None
        kind = ISQ_QUESTIONS[key]["kind"]
        if isinstance(raw, bool):
            out[key] = float(raw) if kind == "yes_no" else None
        elif kind == "yes_no":
            out[key] = parse_yes_no(str(raw)) if raw is not None else None
        else:
            val = parse_scale(str(raw)) if raw is not None else None
            out[key] = val if val is None or str(raw).strip() in SCALE else None
    return out


class Strategy:
    """Builds one scroll's requests and reads them into a Decision."""

    def __init__(self, name: str, answer: Literal["choose", "generate"] = "choose",
                 isq_format: Literal["batch", "structured"] = "batch",
                 isq_score: Literal["expected", "argmax"] = "expected", threshold: float = 60.0,
                 isq_yes_no: Literal["binary", "expected"] = "binary"):
        if name not in STRATEGIES:
            raise ValueError(name)
        self.name, self.answer, self.isq_format, self.isq_score, self.threshold = (
            name, answer, isq_format, isq_score, threshold)
        self.isq_yes_no = isq_yes_no

    def system_prompt(self, persona: Persona | None) -> str:
        if self.name == "plain":
            return PROMPTS["plain"]["system"]
        intro = PROMPTS["persona_intro"].format(traits=persona.text if persona else "")
        return intro if self.name == "simple" else f"{intro} {PROMPTS['feed_context']}"

    def _request(self, system: str, image: ImagePart, text: str, options: tuple[str, ...]) -> Request:
        messages = (Message.system(system), Message.user(image, text))
        if self.answer == "choose":
            return Request(kind="choose", messages=messages, options=options, gen=GenParams(**PROMPTS["generation"]))
        return Request(kind="generate", messages=messages, gen=GenParams(**PROMPTS["generation"]))

    def requests(self, image: ImagePart, persona: Persona | None) -> list[Request]:
        system = self.system_prompt(persona)
        if self.name in ("plain", "simple"):
            return [self._request(system, image, PROMPTS[self.name]["user"], YES_NO)]
        if self.isq_format == "structured":
            messages = (Message.system(system), Message.user(image, PROMPTS["isq"]["structured"]))
            return [Request(kind="generate", messages=messages, gen=GenParams(**PROMPTS["structured_generation"]))]
        return [self._request(system, image, q["text"], SCALE if q["kind"] == "scale" else YES_NO)
                for q in ISQ_QUESTIONS.values()]

    def decide(self, responses: list[Response]) -> Decision:
        if self.name in ("plain", "simple"):
            resp = responses[0]
            p_yes = read_yes_no(resp, "expected")
            if p_yes is None:
                return Decision(watch=False, score=None, parse_ok=False)
            return Decision(watch=p_yes > 0.5, score=p_yes)
        if self.isq_format == "structured":
            parts = parse_structured(responses[0].text)
        else:
            parts = {k: (read_scale(r, self.isq_score) if ISQ_QUESTIONS[k]["kind"] == "scale"
                         else read_yes_no(r, "expected" if self.isq_yes_no == "expected" else "argmax"))
                     for k, r in zip(ISQ_KEYS, responses)}
        if any(v is None for v in parts.values()):
            return Decision(watch=False, score=None, parse_ok=False, parts=parts)
        score = isq_percent(parts)  # type: ignore[arg-type]
        return Decision(watch=score > self.threshold, score=score, parts=parts)
