"""The proposer's OWN share (0-100) in a proposal turn, read with a few generic rules.

Every amount is found once; whose it is comes from the words right before it ("I keep $60", "you get
40", "my share: 60", "me 55") or right after it ("$70 for me", "60 (you)", "$80 - is mine"). An own
amount and another's that add up to 100 is the strongest signal, then an own amount, then another's
(own = 100 - it), then an "a-b" split (first number is the proposer's unless the text says whose side
is larger), then an even split in words. Sentences that recap an earlier round are read only when the
rest of the turn proposes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from vbench.tasks.ultimatum.turntext import NUMBER_WORDS, TOKEN, is_recap, normalise, own_part, sentences


def _verbs(stems: str) -> str:
    """Alternation of verbs with their -s and -ing forms ("take" -> take|takes|taking)."""
    forms = []
    for s in stems.split():
        ing = s[:-1] + "ing" if s.endswith("e") and not s.endswith("ee") else (s + "ting" if s == "get" else s + "ing")
        forms += [s, s + "s", ing]
    return "(?:" + "|".join(sorted(set(forms), key=len, reverse=True)) + ")"


_UNIT = (r"(?:\s*(?:%|percent)|\s*(?:dollars?|usd|bucks|quid|pounds?|euros?|points?|credits?|units?|gold"
         r"|(?:gold |silver )?(?:coins?|pieces?|crowns?|doubloons?)(?: of eight| o' eight)?))?"
         r"(?:\s+(?:of|out of)\s+(?:the\s+)?(?:\$?100(?: dollars)?|total|pot|money|sum|pie|amount|prize)\b)?")
_FILL = r"(?:[a-z']+[,:]?\s+){0,3}?"  # "the majority: ", "only ", "the other "
_MODAL = (r"(?:\s+(?:will|shall|would|should|can|could|must|may|get to|want to|wish to|intend to|plan to|propose to)"
          r"|'ll|'d)?(?:\s+(?:be|am|are))?")
_END_UP = r"|(?:walk|walks|walking) away with|(?:end|ends|ending) up with)"
_OWN_VERB = _verbs("take keep get receive claim have retain pocket demand want")[:-1] + _END_UP
_OTHER_VERB = _verbs("get receive take have keep obtain")[:-1] + _END_UP
_ME = r"(?:me|myself|my side|my character)"
_YOU = r"(?:you|yourself|your side|the responder|my opponent|the other player|my partner)(?!\s+and\s+(?:me|i)\b)"
_TO = (r"(?:for|to|going to|goes to|go to|would go to|will go to|allocated to|given to|kept by|stays with|stay with"
       r"|remains with|remain with)")
_CLAUSE = r"(?:^|[^\w\s'$]\s*)"  # start of the text or after punctuation: "me 55, you 45"

_OWN_LEFT = re.compile(
    rf"(?:{_CLAUSE}me\s*[:=-]?\s*|\bi{_MODAL}\s+{_OWN_VERB}\s+{_FILL}|\bme\s+{_verbs('take keep get receive have')}\s+"
    rf"|\b(?:give|giving|gave|leave|leaving|leaves|let)\s+me\s+(?:with\s+)?{_FILL}"
    rf"|\b(?:my|me)\s+(?:share|portion|cut|part|take)\s*(?:is|of|will be|would be|=|:|being)?\s*{_FILL})$")
_OTHER_LEFT = re.compile(
    rf"(?:{_CLAUSE}you\s*[:=-]?\s*|\byou{_MODAL}\s+{_OTHER_VERB}\s+{_FILL}"
    rf"|\b(?:give|giving|gives|offer|offering|offers|grant|granting|leave|leaving|leaves|let)\s+you\s+(?:have\s+|with\s+)?{_FILL}"
    rf"|\byou\s+(?:may|can|could|will|shall)\s+(?:have|get|keep)\s+{_FILL}"
    rf"|\byour\s+(?:share|portion|cut|part)\s*(?:is|of|will be|would be|=|:|being)?\s*{_FILL}"
    rf"|\bfor you to (?:get|receive|have|take)\s+{_FILL})$")
_MINE = r"\s*-?\s*(?:is|are|that's|that is|will be|shall be)?\s*"
_OWN_RIGHT = re.compile(rf"{_UNIT}(?:\s*,?\s*\(?\s*{_TO}\s+{_ME}\b|\s*\(\s*{_ME}\s*\)|{_MINE}mine\b|\s+me\b(?!\s+and))")
_OTHER_RIGHT = re.compile(rf"{_UNIT}(?:\s*,?\s*\(?\s*{_TO}\s+{_YOU}\b|\s*\(\s*you\s*\)|{_MINE}yours\b|\s+you\b(?!\s+and))")
_TOTAL_LEFT = re.compile(r"(?:\bof|\bout of|\bfrom)\s+(?:the\s+)?\$?$")  # "$100" as the pot, not a share
_NUM = re.compile(r"\d+(?:\.\d+)?")
_FRACTION = re.compile(r"\s*/\s*\$?\d")
_WINDOW = 64

_SPLIT_RIGHT = re.compile(r"\s*%?\s*(?:-|/|:|to|vs\.?|and)?\s*\$?(\d{1,3})\s*%?(?!\d|\.\d)")
_SIDE_ORDER = re.compile(r"\s*,?\s*\(?\s*(me|you)\s*/\s*(?:me|you)\b")
_ME_SIDE = r"(?:me|myself)"
_YOU_SIDE = r"(?:you|my opponent|the responder|the other player|my partner|them)"
_BIG = r"(?:larger|bigger|greater|lion's|better) (?:share|portion|part|amount|half|cut)(?:\s*,?\s*\$?\d+\s*,?)?"
_FAVOUR_ME = re.compile(rf"in my favou?r|favou?ring {_ME_SIDE}|in favou?r of {_ME_SIDE}"
                        rf"|{_BIG}\s+(?:going |goes |go |is |will go )?(?:to|for) {_ME_SIDE}\b|more for me")
_FAVOUR_YOU = re.compile(rf"in (?:your|their) favou?r|favou?ring {_YOU_SIDE}|in favou?r of {_YOU_SIDE}"
                         rf"|{_BIG}\s+(?:going |goes |go |is |will go )?(?:to|for) {_YOU_SIDE}\b|more for you")
_EVEN_HINTS = ("even", "equal", "half", "50", "each", "apiece")
_EVEN_RE = re.compile(
    r"\b(?:divide|split|share)\w*\b[^.?!]{0,30}?\b(?:evenly|equally|in half|down the middle)\b"
    r"|\b(?:even|equal|fair and equal)\s+(?:split|division|share|shares|amounts?|parts|portions)\b"
    r"|\bhalf each\b|\bhalf (?:for|to) (?:you|me)\b|\$?50(?: dollars)? (?:each|apiece|a piece)\b"
    r"|\b(?:\$?50(?: dollars)?) (?:for|to) (?:each|both) of us\b|\beach (?:of us )?(?:gets?|receives?|takes?) \$?50\b"
    r"|\bwe (?:both|each) (?:\w+ ){0,2}?\$?50\b")


def _amount_spans(text: str):
    """(value, start, end) of every amount that can be a share (no decimals parts, no years)."""
    for m in _NUM.finditer(text):
        start, end = m.span()
        if start and text[start - 1] == ".":  # the decimal part of "3.5"
            continue
        if len(m.group().split(".")[0]) > 3:
            continue
        yield float(m.group()), start - (start > 0 and text[start - 1] == "$"), end


def _split_own(text: str, v: float, b: float, start: int, end: int) -> float:
    """The proposer's side of an "a-b" split, from the words around it."""
    side = _SIDE_ORDER.match(text, end)
    if side:
        return v if side.group(1) == "me" else b
    stop = min((i for i in (text.find(c, end) for c in ".!?\n") if i >= 0), default=len(text))
    near = text[max(0, start - 24):start] + " " + text[end:min(stop, end + 100)]
    if _FAVOUR_YOU.search(near):
        return min(v, b)
    if _FAVOUR_ME.search(near):
        return max(v, b)
    return v  # the proposer names its own share first


def _candidates(text: str) -> tuple[list[float], list[float], list[float]]:
    """Own amounts, the other's amounts and own shares from "a-b" splits, in text order."""
    own, other, splits = [], [], []
    for v, start, end in _amount_spans(text):
        sm = _SPLIT_RIGHT.match(text, end)
        if sm and v + float(sm.group(1)) == 100:
            splits.append(_split_own(text, v, float(sm.group(1)), start, sm.end()))
        if v > 100 or _FRACTION.match(text, end):
            continue
        left = text[max(0, start - _WINDOW):start]
        if v == 100 and _TOTAL_LEFT.search(left):
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


def _decide(t: str) -> OfferParse:
    own, other, splits = _candidates(t)
    for o in own:
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


_DIGIT = re.compile(r"\d")
# a sentence can hold a proposal only with a digit, a number word or a word of an even split
_PROPOSAL_WORDS = NUMBER_WORDS | frozenset("even evenly equal equally half halves each apiece both".split())


def _may_propose(sentence: str) -> bool:
    return _DIGIT.search(sentence) is not None or not _PROPOSAL_WORDS.isdisjoint(TOKEN.findall(sentence.lower()))


def parse_offer(text: str | None) -> OfferParse:
    """The proposer's OWN share (0-100) proposed in ``text``, or None when no proposal is found."""
    if not text or not text.strip():
        return OfferParse(None, "none")
    parts = [normalise(s) for s in sentences(own_part(text)) if _may_propose(s)]
    recaps = [is_recap(s) for s in parts]
    found = _decide(" ".join(s for s, r in zip(parts, recaps) if not r))
    if found.offer is None and any(recaps):
        found = _decide(" ".join(s for s, r in zip(parts, recaps) if r))
    return found
