"""Text measures for dialogue analyses: pronoun use and VADER sentiment.

Pronoun groups follow the Kiss-up study's contrast of inclusive ("we/us/our") with self ("I/me/my")
and other ("you/your") reference. Sentiment is VADER's compound score (vaderSentiment); identical texts
are scored once and large batches are spread over worker processes (VADER is pure Python).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Sequence

from vbench.analysis.parallel import map_unique

PRONOUN_GROUPS: dict[str, frozenset[str]] = {
    "we": frozenset("we us our ours ourselves let's we're we'll we've we'd".split()),
    "i": frozenset("i me my mine myself i'm i'll i've i'd".split()),
    "you": frozenset("you your yours yourself yourselves you're you'll you've you'd".split()),
}
_LOOKUP = {w: g for g, words in PRONOUN_GROUPS.items() for w in words}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def pronoun_counts(text: str | None) -> dict[str, int]:
    """Occurrences of each pronoun group in ``text`` (case-insensitive, contractions included)."""
    counts = {g: 0 for g in PRONOUN_GROUPS}
    if text:
        for tok in _TOKEN.findall(text.lower().replace("\u2019", "'")):
            g = _LOOKUP.get(tok)
            if g is not None:
                counts[g] += 1
    return counts


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    class WindowedAnalyzer(SentimentIntensityAnalyzer):
        """VADER with its own context checks handed only the words they read.

        ``_negation_check`` and ``_special_idioms_check`` lower-case the whole word list on every call
        but read at most three words before and two after the current one, which makes a long turn
        quadratic. Passing that window (indices shifted) gives the same scores in linear time;
        tests/ultimatum/test_analyze.py compares it with the stock analyzer.
        """

        @staticmethod
        def _negation_check(valence, words_and_emoticons, start_i, i):
            lo = max(0, i - 3)
            return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons[lo:i + 1], start_i, i - lo)

        @staticmethod
        def _special_idioms_check(valence, words_and_emoticons, i):
            lo = max(0, i - 3)
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons[lo:i + 3], i - lo)

    return WindowedAnalyzer()


def sentiment(text: str | None) -> float | None:
    """VADER compound score in [-1, 1]; None for a missing or empty text."""
    if not text or not text.strip():
        return None
    return _analyzer().polarity_scores(text)["compound"]


def _measures(text: str | None) -> tuple[float | None, int, int, int]:
    counts = pronoun_counts(text)
    return sentiment(text), counts["we"], counts["i"], counts["you"]


def text_measures(texts: Sequence[str | None], workers: int | None = None,
                  min_parallel: int = 4000) -> dict[str, list]:
    """Columns ``sentiment``, ``we``, ``i``, ``you`` for many texts (duplicates scored once, in parallel)."""
    rows = map_unique(_measures, list(texts), workers=workers, min_parallel=min_parallel)
    cols = list(zip(*rows)) if rows else [(), (), (), ()]
    return {"sentiment": list(cols[0]), "we": list(cols[1]), "i": list(cols[2]), "you": list(cols[3])}


def pronoun_table(texts: Iterable[str | None]) -> dict[str, list[int]]:
    """Column-wise pronoun counts for many texts."""
    cols: dict[str, list[int]] = {g: [] for g in PRONOUN_GROUPS}
    for t in texts:
        for g, c in pronoun_counts(t).items():
            cols[g].append(c)
    return cols
