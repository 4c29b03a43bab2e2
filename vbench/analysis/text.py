"""Text measures for dialogue analyses: pronoun use and VADER sentiment.

Pronoun groups follow the Kiss-up study's contrast of inclusive ("we/us/our") with self ("I/me/my")
and other ("you/your") reference. Sentiment is VADER's compound score (vaderSentiment); identical texts
are scored once and large batches are spread over worker processes, since VADER is pure Python.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from multiprocessing import get_context
from typing import Iterable, Sequence

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

    return SentimentIntensityAnalyzer()


def _score_chunk(texts: list[str]) -> list[float]:
    analyzer = _analyzer()
    return [analyzer.polarity_scores(t)["compound"] for t in texts]


def sentiment(text: str | None) -> float | None:
    """VADER compound score in [-1, 1]; None for a missing or empty text."""
    if not text or not text.strip():
        return None
    return _score_chunk([text])[0]


def sentiments(texts: Sequence[str | None], workers: int | None = None, parallel_from: int = 4000) -> list[float | None]:
    """VADER compound per text; duplicates scored once; ≥ ``parallel_from`` distinct texts use processes."""
    unique = sorted({t for t in texts if t and t.strip()})
    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    if len(unique) >= parallel_from and workers > 1:
        size = max(500, len(unique) // (workers * 4) + 1)
        chunks = [unique[i:i + size] for i in range(0, len(unique), size)]
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            scores = [s for part in pool.map(_score_chunk, chunks) for s in part]
    else:
        scores = _score_chunk(unique)
    table = dict(zip(unique, scores))
    return [table.get(t) if t else None for t in texts]


def pronoun_table(texts: Iterable[str | None]) -> dict[str, list[int]]:
    """Column-wise pronoun counts for many texts."""
    cols: dict[str, list[int]] = {g: [] for g in PRONOUN_GROUPS}
    for t in texts:
        for g, c in pronoun_counts(t).items():
            cols[g].append(c)
    return cols
