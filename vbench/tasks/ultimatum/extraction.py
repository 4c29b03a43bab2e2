"""Round outcomes from turn text: the proposer's own share and the responder's accept/reject.

Default: a deterministic parser (``RULES``) for the forms models actually write — "$70 for me and $30
for you", "a 70-30 split", "I'll take 70, you get 30", "you receive $40" (⇒ own 60), percentages,
number words, even splits — and for responders accept/reject with negation ("I cannot accept"), where a
counter-proposal counts as a rejection with a flag (as the release scored it). Option: the paper's
LLM-judge prompts (``judge_requests`` + ``parse_judge_*``), sent through any runner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from vbench.tasks.ultimatum.numbers import words_to_digits
from vbench.types import GenParams, Message, Request

RULES = "rules/1"

# -- normalisation ---------------------------------------------------------------------------
_MARKER = re.compile(r"={2,}\s*round\s*#?\d*\s*={2,}", re.I)
_SUFFIX_DOLLAR = re.compile(r"(\d)\s*\$")
_SPACE_DOLLAR = re.compile(r"\$\s+(\d)")
_THOUSANDS = re.compile(r"(\d),(\d{3})\b")


def normalise(text: str) -> str:
    t = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-").replace("\u2014", "-")
    t = _MARKER.sub(" ", t).replace("**", "").replace("__", "")
    t = words_to_digits(t.lower())
    t = _SUFFIX_DOLLAR.sub(r"\1 dollars", t)
    t = _SPACE_DOLLAR.sub(r"$\1", t)
    return _THOUSANDS.sub(r"\1\2", t)


# -- offer candidates ------------------------------------------------------------------------
_UNIT = r"(?:\s*(?:%|percent|dollars?|usd|bucks|gold(?:\s+coins?)?|coins?))?"
_FILL = r"(?:only |just |the remaining |the rest,? |a total of |about |around |a mere |a full |a generous |an? )?"
_MODAL = r"(?:\s+(?:will|shall|would|should|can|could|must|may|get to|want to|wish to|intend to|plan to|propose to))?(?:'ll|'d)?"
_ME = r"(?:me|myself|my side|my character)"
_YOU = r"(?:you|yourself|your side|the responder)(?!\s+and\s+(?:me|i)\b)"
_TO = r"(?:for|to|going to|goes to|go to|would go to|will go to|allocated to|given to|kept by)"
_OWN_VERB = r"(?:take|keep|get|receive|claim|have|retain|pocket|demand|walk away with|end up with|am taking|am keeping|receiving|taking|keeping|getting)"
_OTHER_VERB = r"(?:get|gets|receive|receives|take|takes|have|keep|walk away with|end up with|will have|are getting|receiving|getting)"

# Every amount is found once (_NUM); what it belongs to is read from the words right before it
# (*_LEFT, anchored at the amount) or right after it (*_RIGHT, anchored after the amount). Scanning
# only around numbers keeps extraction fast on long turns.
_NUM = re.compile(r"\d+(?:\.\d+)?")
_FRACTION = re.compile(r"\s*/\s*\$?\d")
_OWN_LEFT = re.compile(
    rf"(?:\b{_ME}\s*[:=-]\s*|\bi{_MODAL}\s+{_OWN_VERB}\s+{_FILL}"
    rf"|\b(?:give|giving|leave|leaving|leaves|let)\s+me\s+(?:with\s+)?{_FILL}"
    rf"|\bmy\s+(?:share|portion|cut|part)\s*(?:is|of|will be|would be|=|:|being)?\s*{_FILL})$")
_OTHER_LEFT = re.compile(
    rf"(?:\byou\s*[:=-]\s*|\byou{_MODAL}\s+{_OTHER_VERB}\s+{_FILL}"
    rf"|\b(?:give|giving|gives|offer|offering|offers|grant|granting|leave|leaving|leaves|let)\s+you\s+(?:have\s+|with\s+)?{_FILL}"
    rf"|\byou\s+(?:may|can|could|will|shall)\s+(?:have|get|keep)\s+{_FILL}"
    rf"|\byour\s+(?:share|portion|cut|part)\s*(?:is|of|will be|would be|=|:|being)?\s*{_FILL}"
    rf"|\bfor you to (?:get|receive|have|take)\s+{_FILL})$")
_OWN_RIGHT = re.compile(rf"{_UNIT}(?:\s*\(?\s*{_TO}\s+{_ME}\b|\s*\(\s*{_ME}\s*\))")
_OTHER_RIGHT = re.compile(rf"{_UNIT}(?:\s*\(?\s*{_TO}\s+{_YOU}\b|\s*\(\s*you\s*\))")
_SPLIT_RIGHT = re.compile(r"\s*%?\s*(?:-|/|:|to|vs\.?)\s*\$?(\d{1,3})\s*%?(?!\d|\.\d)")
_FAVOUR_ME = re.compile(r"in my favou?r|favou?ring me|larger (?:share|portion|part|amount) (?:going |goes )?to me|bigger (?:share|portion|part) (?:going |goes )?to me|more for me")
_FAVOUR_YOU = re.compile(r"in your favou?r|favou?ring you|larger (?:share|portion|part|amount) (?:going |goes )?to you|bigger (?:share|portion|part) (?:going |goes )?to you|more for you")
_EVEN_HINTS = ("even", "equal", "half", "middle", "50")
_EVEN_RE = re.compile(
    r"\b(?:divide|split|share)\w*\b[^.?!]{0,30}?\b(?:evenly|equally|in half|down the middle)\b"
    r"|\b(?:even|equal|fair and equal)\s+(?:split|division|share|shares|amounts?|parts|portions)\b"
    r"|\bhalf each\b|\bhalf (?:for|to) (?:you|me)\b|\b50 each\b|\$50 each\b|\b(?:\$?50(?: dollars)?) (?:for|to) (?:each|both) of us\b|\beach (?:get|receive|take) \$?50\b")
_WINDOW = 56


def _candidates(text: str) -> tuple[list[float], list[float], list[float]]:
    """Own amounts, other's amounts and own shares from "a-b" splits, in text order."""
    own, other, splits = [], [], []
    for m in _NUM.finditer(text):
        start, end = m.span()
        if start and text[start - 1] == ".":  # a decimal part such as ".5" of "3.5"
            continue
        if len(m.group().split(".")[0]) > 3:
            continue
        v = float(m.group())
        start -= start > 0 and text[start - 1] == "$"
        left = text[max(0, start - _WINDOW):start]
        sm = _SPLIT_RIGHT.match(text, end)
        if sm and v + float(sm.group(1)) == 100:
            b = float(sm.group(1))
            near = text[max(0, start - 20):start] + " " + text[sm.end():sm.end() + 60]
            if _FAVOUR_YOU.search(near):
                splits.append(min(v, b))
            elif _FAVOUR_ME.search(near):
                splits.append(max(v, b))
            else:
                splits.append(v)  # the proposer names its own share first
        if v > 100 or _FRACTION.match(text, end):
            continue
        if _OWN_RIGHT.match(text, end) or _OWN_LEFT.search(left):
            own.append(v)
        elif _OTHER_RIGHT.match(text, end) or _OTHER_LEFT.search(left):
            other.append(v)
    return own, other, splits


@dataclass(frozen=True)
class OfferParse:
    offer: float | None
    how: str  # "pair", "own", "other", "split", "even" or "none"


def parse_offer(text: str | None) -> OfferParse:
    """The proposer's OWN share (0–100) proposed in ``text``, or None when no proposal is found."""
    if not text or not text.strip():
        return OfferParse(None, "none")
    t = normalise(text)
    own, other, splits = _candidates(t)
    for o in own:  # an own/other pair that adds up is the strongest signal
        if any(o + x == 100 for x in other):
            return OfferParse(o, "pair")
    if own:
        return OfferParse(own[0], "own")
    if other:
        return OfferParse(100 - other[0], "other")
    if splits:
        return OfferParse(splits[0], "split")
    if any(h in t for h in _EVEN_HINTS) and _EVEN_RE.search(t):
        return OfferParse(50.0, "even")
    return OfferParse(None, "none")


# -- responses -------------------------------------------------------------------------------
_NEG_ACCEPT = r"\b(?:not|never|cannot|can't|can not|won't|will not|wouldn't|would not|don't|do not|unable to|refuse to|than)\s+(?:\w+\s+){0,2}?(?:accept|agree)"
_REJECT = (r"\breject\w*|\bdecline[sd]?\b|\bdeclining\b|\brefus(?:e|es|ed|ing)\b|\bunacceptable\b|\bno deal\b"
           r"|\bturn(?:ing)? (?:it |this |that |your \w+ )?down\b|\bpass on\b|^\W*no\b|\bi say no\b|\bi must say no\b")
_ACCEPT = (r"\baccept(?:s|ed|ing)?\b|\bacceptable\b|\bagree(?:d|s)?\b|\bdeal\b|\bi(?:'ll| will) take it\b"
           r"|\bsounds good\b|\bi'm in\b|^\W*yes\b")
_DECISION = re.compile(f"(?P<neg>{_NEG_ACCEPT})|(?P<rej>{_REJECT})|(?P<acc>{_ACCEPT})", re.M)
_COUNTER_CUE = re.compile(
    r"\bpropos(?:e|ing)\b|\bsuggest\w*|\bcounter\w*|\bhow about\b|\bwhat about\b|\binstead\b"
    r"|\bwould be (?:more )?(?:fair|fairer|reasonable|acceptable|better)\b|\bfairer\b|\bi(?:'d| would) accept\b"
    r"|\bi demand\b|\bi want\b|\blet's (?:do|make it|split)\b")


@dataclass(frozen=True)
class ResponseParse:
    accepted: bool | None
    counter_proposal: bool


def parse_response(text: str | None) -> ResponseParse:
    """Accept (True) / reject (False) / no usable answer (None); counter-proposals are rejections."""
    if not text or not text.strip():
        return ResponseParse(None, False)
    t = normalise(text)
    m = _DECISION.search(t)
    decision = None if m is None else m.lastgroup == "acc"
    if decision is True:
        return ResponseParse(True, False)
    counter = bool(_COUNTER_CUE.search(t)) and parse_offer(text).offer is not None
    if counter:
        return ResponseParse(False, True)
    return ResponseParse(decision, False)


# -- the release's LLM-judge prompts -----------------------------------------------------------
def judge_requests(prompts: dict, proposer_text: str | None, responder_text: str | None,
                   role: str = "judge") -> list[Request]:
    """Two requests per round (offer, acceptance) with the release's wording, temperature 0."""
    j, gen = prompts["judge"], GenParams(**prompts["judge_generation"])
    return [Request(kind="generate", role=role, gen=gen, messages=(
                Message.system(j[key]), Message.user(j["user"].format(text=text or ""))))
            for key, text in (("offer", proposer_text), ("acceptance", responder_text))]


_JUDGE_NUM = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)(?![\d])")


def parse_judge_offer(answer: str | None) -> float | None:
    m = _JUDGE_NUM.search(answer or "")
    return float(m.group(1)) if m and 0 <= float(m.group(1)) <= 100 else None


def parse_judge_acceptance(answer: str | None) -> bool | None:
    m = re.search(r"(?<!\d)([01])(?!\d)", answer or "")
    return None if m is None else m.group(1) == "1"


# -- whole games -----------------------------------------------------------------------------
def _parse_turn(item: tuple[str, str | None]) -> tuple[float | None, bool | None, bool]:
    role, text = item
    if role == "proposer":
        return parse_offer(text).offer, None, False
    r = parse_response(text)
    return None, r.accepted, r.counter_proposal


def rule_outcomes_many(transcripts: list) -> None:
    """Set every transcript's outcomes with the rules; turns are parsed in parallel for large sets."""
    from vbench.analysis.parallel import map_unique
    from vbench.tasks.ultimatum.transcripts import ROUNDS, Outcome

    items = []
    for t in transcripts:
        by_round = t.round_turns()
        for rnd in range(1, ROUNDS + 1):
            turns = by_round.get(rnd, {})
            for role in ("proposer", "responder"):
                turn = turns.get(role)
                items.append((role, turn.text if turn else None))
    parsed = map_unique(_parse_turn, items)
    k = 0
    for t in transcripts:
        outs = []
        for rnd in range(1, ROUNDS + 1):
            offer, (_, accepted, counter) = parsed[k][0], parsed[k + 1]
            k += 2
            outs.append(Outcome(round=rnd, proposer=t.proposer_of(rnd), offer=offer, accepted=accepted,
                                counter_proposal=counter, offer_nonanswer=offer is None,
                                response_nonanswer=accepted is None, extractor=RULES))
        t.outcomes = outs


def rule_outcomes(transcript) -> list:
    """One Outcome per round of a Transcript, from the deterministic parser."""
    from vbench.tasks.ultimatum.transcripts import ROUNDS, Outcome

    by_round = transcript.round_turns()
    out = []
    for rnd in range(1, ROUNDS + 1):
        turns = by_round.get(rnd, {})
        prop, resp = turns.get("proposer"), turns.get("responder")
        offer = parse_offer(prop.text if prop else None).offer
        response = parse_response(resp.text if resp else None)
        out.append(Outcome(round=rnd, proposer=transcript.proposer_of(rnd), offer=offer,
                           accepted=response.accepted, counter_proposal=response.counter_proposal,
                           offer_nonanswer=offer is None, response_nonanswer=response.accepted is None,
                           extractor=RULES))
    return out
