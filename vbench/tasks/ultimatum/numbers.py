"""Number words → digits for money amounts (0–100): "seventy-five" → "75", "fifty-fifty" → "50-50".

Only what negotiation turns need; amounts above one hundred never matter for a $100 game.
"""
from __future__ import annotations

import re

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if w != "_"}
_TENS["fourty"] = 40  # common misspelling

_TENS_RE = "|".join(sorted(_TENS, key=len, reverse=True))
_UNIT_RE = "|".join(sorted((w for w in _UNITS if _UNITS[w] < 10 and w != "zero"), key=len, reverse=True))
_ALL_UNITS_RE = "|".join(sorted(_UNITS, key=len, reverse=True))

_HINTS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "twenty", "thirty", "forty", "fourty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred")
_HUNDRED = re.compile(r"\b(?:one|a)\s+hundred\b|\bhundred\b", re.I)
_COMPOUND = re.compile(rf"\b({_TENS_RE})(?:-|\s+)({_UNIT_RE})\b", re.I)
_SINGLE = re.compile(rf"\b({_TENS_RE}|{_ALL_UNITS_RE})\b", re.I)


def words_to_digits(text: str) -> str:
    """Replace number words with digits; leaves everything else unchanged."""
    low = text.lower()
    if not any(w in low for w in _HINTS):
        return text
    text = _HUNDRED.sub("100", text)
    text = _COMPOUND.sub(lambda m: str(_TENS[m.group(1).lower()] + _UNITS[m.group(2).lower()]), text)
    return _SINGLE.sub(lambda m: str(_TENS.get(m.group(1).lower(), _UNITS.get(m.group(1).lower()))), text)
