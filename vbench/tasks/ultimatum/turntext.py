"""Turn text prepared for the outcome rules: one spelling, the model's own part, sentences, recaps.

Models write the same thing many ways (curly quotes and dashes, markdown, number words, "70$",
dialect such as "ye" or "takin'"); ``normalise`` maps them to one form so the rules stay few.
``own_part`` cuts a turn where the model starts speaking for the other seat or the next round;
``sentences`` splits it for the rules that judge a statement as a whole (questions, recaps); the
rules split first and normalise only the sentences that can matter, which keeps long turns cheap.
"""
from __future__ import annotations

import re
from itertools import chain
from typing import Iterator

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


TOKEN = re.compile(r"[a-z]+")
_DIALECT_TOKENS = frozenset(w for k in _WORDS for w in k.split()) - {"mine", "yours"}
NUMBER_WORDS = frozenset("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                         "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fourty fifty sixty seventy "
                         "eighty ninety hundred".split())


def scan(pattern: re.Pattern, text: str) -> Iterator[re.Match]:
    """``pattern.finditer(text)`` for patterns whose matches start at a word or at the start of the text.

    ``re`` tries every alternative of a pattern at every character; trying only where words start
    (found by a fast character-class scan) gives the same matches several times faster.
    """
    end = 0
    for start in chain((0,), (m.start() for m in TOKEN.finditer(text))):
        if start < end:
            continue
        m = pattern.match(text, start)
        if m:
            yield m
            end = max(m.end(), start + 1)


def plain(text: str) -> str:
    """Lower case, plain quotes and dashes, no markup, standard spellings of dialect words."""
    t = text.translate(_CHARS).lower()
    if "*" in t or "_" in t or "`" in t:
        t = _MARKUP.sub("", t)
    if not _DIALECT_TOKENS.isdisjoint(TOKEN.findall(t)):
        t = _WORD_RE.sub(lambda m: _WORDS[m.group()], t)
    if "in'" in t:
        t = _DROPPED_G.sub(r"\1ing", t)
    return t


def normalise(text: str) -> str:
    """``plain`` plus digits for number words and "$N" for every money amount."""
    t = plain(text)
    if not NUMBER_WORDS.isdisjoint(TOKEN.findall(t)):
        t = words_to_digits(t)
    if "$" in t:
        t = _SPACE_DOLLAR.sub(r"$\1", _SUFFIX_DOLLAR.sub(r"\1 dollars", t))
    if "third" in t or "quarter" in t or "fifth" in t or "/" in t:
        t = _APPROX.sub("", t)
    return _THOUSANDS.sub(r"\1\2", t) if "," in t else t


# where a model goes on to play the other seat or the next round itself
_HANDOVER = re.compile(r"={2,}\s*round\b[^=\n]*={2,}|^[ \t>*_#]*(?:responder|proposer|player\s*[ab12])[*_ ]*:",
                       re.I | re.M)


def own_part(text: str) -> str:
    """The turn up to where the model starts speaking for the other seat or the next round."""
    if "==" not in text and ":" not in text:
        return text
    for part in _HANDOVER.split(text):
        if part.strip():
            return part
    return ""


_BREAK = re.compile(r"[.!?\n]")


def sentences(text: str) -> list[str]:
    """Sentences and lines: a break is a newline or . ! ? before white space (not the point of "$3.50")."""
    out, start, n = [], 0, len(text)
    for m in _BREAK.finditer(text):
        end = m.end()
        if m.group() != "\n" and end < n and not text[end].isspace():
            continue
        s = text[start:end].strip()
        if s:
            out.append(s)
        start = end
    s = text[start:].strip()
    if s:
        out.append(s)
    return out


# A recap talks about an earlier round; a sentence that also makes the present proposal is not one.
_PAST = re.compile(r"\b(?:last|previous|prior|earlier|first|second|third) (?:round|time|turn|offer|proposal)s?\b"
                   r"|\bpreviously\b|\bearlier\b|\bso far\b|\brecap\b|\bin round \d\b|^round \d\s*:"
                   r"|\byou (?:offered|proposed|gave|took|kept|suggested|rejected|accepted|turned)\b|\bwe agreed\b")
_NOW = re.compile(r"\bi(?:'d| would)?(?: like to| want to)? propose\b|\bmy (?:new |revised )?(?:proposal|offer)"
                  r"(?: for [\w ]+| is| stands| would be)?\s*:|\bmy (?:new |revised )?(?:proposal|offer) (?:is|stands)\b"
                  r"|\bthis (?:round|time)\b|\bnow\b|\bfor (?:this|the next) round\b|\bfor round \d\b|\brevise")


_PAST_HINTS = ("last ", "previous", "prior ", "earlier", "first ", "second ", "third ", "so far", "recap", "round",
               "you offered", "you proposed", "you gave", "you took", "you kept", "you suggested", "you rejected",
               "you accepted", "you turned", "we agreed")


def is_past(sentence: str) -> bool:
    """True for a sentence that speaks of an earlier round or of what was done before."""
    return any(h in sentence for h in _PAST_HINTS) and next(scan(_PAST, sentence), None) is not None


def is_recap(sentence: str) -> bool:
    """True for a sentence about an earlier round that makes no present proposal."""
    return is_past(sentence) and next(scan(_NOW, sentence), None) is None
