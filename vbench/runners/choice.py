"""Option scoring shared by every backend: surface variants, pooling, renormalising, parsing.

A ``choose`` request asks for P(option). Backends with log-probs score each option's surface variants
("Yes", "yes", " yes", ...) and pool them; backends without parse a constrained answer instead.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping


def surface_variants(option: str) -> list[str]:
    """The spellings a model may use for an option at the start of its answer (deduplicated)."""
    forms = [option, option.lower(), option.capitalize(), option.upper()]
    out: list[str] = []
    for form in forms + [" " + f for f in forms]:
        if form not in out:
            out.append(form)
    return out


def pool_option_probs(variant_logprobs: Mapping[str, float], options: Iterable[str]) -> tuple[dict[str, float], float]:
    """Sum the probabilities of each option's variants; renormalise over options.

    ``variant_logprobs`` maps surface strings (as the backend saw them) to log-probs; strings that are
    variants of no option are ignored. Returns (probs, mass) where mass is the total probability the
    options held before renormalising (a diagnostic: low mass = the model wanted to say something else).
    """
    options = list(options)
    raw = {o: 0.0 for o in options}
    for o in options:
        for v in surface_variants(o):
            lp = variant_logprobs.get(v)
            if lp is not None and math.isfinite(lp):
                raw[o] += math.exp(lp)
    mass = sum(raw.values())
    if mass <= 0:
        return {o: 1.0 / len(options) for o in options}, 0.0
    return {o: p / mass for o, p in raw.items()}, mass


def constrained_instruction(options: Iterable[str]) -> str:
    """Text appended for backends that must answer in words: one option, nothing else."""
    opts = list(options)
    return "Answer with exactly one of: " + ", ".join(opts) + ". Reply with that answer only."


def parse_choice(text: str | None, options: Iterable[str]) -> str | None:
    """The option a free-text answer names first (whole word, case-insensitive); None if none."""
    if not text:
        return None
    best: tuple[int, str] | None = None
    for o in options:
        m = re.search(r"(?<![\w])" + re.escape(o) + r"(?![\w])", text, flags=re.IGNORECASE)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), o)
    return best[1] if best else None
