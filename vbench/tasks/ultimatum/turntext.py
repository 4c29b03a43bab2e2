"""Turn text prepared for the outcome rules: one spelling, the model's own part, sentences, recaps.

Models write the same thing many ways (curly quotes and dashes, markdown, number words, "70$",
dialect such as "ye" or "takin'"); ``normalise`` maps them to one form so the rules stay few.
``own_part`` cuts a turn where the model starts speaking for the other seat or the next round;
``sentences`` splits it for the rules that judge a statement as a whole (questions, recaps).
"""
from __future__ import annotations

import re

from vbench.tasks.ultimatum.numbers import words_to_digits

_CHARS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": " - ",
                        "\u2026": "...", "\u00a0": " "})
_MARKUP = re.compile(r"\*\*|__|`")
_SUFFIX_DOLLAR = re.compile(r"(\d)\s*\$")
_SPACE_DOLLAR = re.compile(r"\$\s+(\d)")
_THOUSANDS = re.compile(r"(\d),(\d{3})\b")
_DROPPED_G = re.compile(r"\b([a-z]{2,})in'(?=[\s.,!?;:)]|$)")  # takin' -> taking
# an approximate share restated as an amount: "two-thirds, about $67" -> "$67"
_APPROX = re.compile(r"\b\d\s*(?:/\s*\d|-?\s*(?:thirds?|quarters?|fifths?))\b(?:\s+of\s+(?:it|the \w+))?"
                     r"\s*,?\s*(?:or|about|around|roughly|approximately|i\.e\.,?|that is,?)\s+(?=\$?\d)")
# dialect and archaic forms of the words the rules read
_WORDS = {"ye": "you", "thee": "you", "thou": "you", "yer": "your", "thy": "your", "thine": "yours",
          "meself": "myself", "mine own self": "myself", "yours truly": "me", "gimme": "give me",
          "lemme": "let me", "shalt": "shall", "mayest": "may", "wilt": "will", "nay": "no"}
_WORD_RE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + r")\b")


def normalise(text: str) -> str:
    """Lower case, plain punctuation, digits for number words, "$N" for every money amount."""
    t = _MARKUP.sub("", text.translate(_CHARS)).lower()
    t = words_to_digits(t)
    t = _WORD_RE.sub(lambda m: _WORDS[m.group()], t)
    if "in'" in t:
        t = _DROPPED_G.sub(r"\1ing", t)
    t = _SUFFIX_DOLLAR.sub(r"\1 dollars", t)
    t = _SPACE_DOLLAR.sub(r"$\1", t)
    t = _APPROX.sub("", t)
    return _THOUSANDS.sub(r"\1\2", t)


# where a model goes on to play the other seat or the next round itself
_HANDOVER = re.compile(r"={2,}\s*round\b[^=\n]*={2,}|^[ \t>*_#]*(?:responder|proposer|player\s*[ab12])[*_ ]*:",
                       re.I | re.M)


def own_part(text: str) -> str:
    """The turn up to where the model starts speaking for the other seat or the next round."""
    for part in _HANDOVER.split(text):
        if part.strip():
            return part
    return ""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def sentences(text: str) -> list[str]:
    """Sentences and lines (a full stop inside "$3.50" does not end one)."""
    return [s for s in _SENTENCE_END.split(text) if s]


# A recap talks about an earlier round; a sentence that also makes the present proposal is not one.
_PAST = re.compile(r"\b(?:last|previous|prior|earlier|first|second|third) (?:round|time|turn|offer|proposal)s?\b"
                   r"|\bpreviously\b|\bearlier\b|\bso far\b|\brecap\b|\bin round \d\b|^round \d\s*:"
                   r"|\byou (?:offered|proposed|gave|took|kept|suggested|rejected|accepted|turned)\b|\bwe agreed\b")
_NOW = re.compile(r"\bi(?:'d| would)?(?: like to| want to)? propose\b|\bmy (?:new |revised )?(?:proposal|offer)"
                  r"(?: for [\w ]+| is| stands| would be)?\s*:|\bmy (?:new |revised )?(?:proposal|offer) (?:is|stands)\b"
                  r"|\bthis (?:round|time)\b|\bnow\b|\bfor (?:this|the next) round\b|\bfor round \d\b|\brevise")


def is_recap(sentence: str) -> bool:
    """True for a sentence about an earlier round that makes no present proposal."""
    return bool(_PAST.search(sentence)) and not _NOW.search(sentence)
