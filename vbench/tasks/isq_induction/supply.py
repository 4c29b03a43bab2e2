"""Can a platform's pool supply the design for a persona? Checked before any model call.

A trial shows ``scrolls`` distinct items from its platform's pool; a viewer who takes on the persona
likes the items of the persona's target values ("liked items"). Each trial draws from the whole pool
on its own (trials never share items), so the supply to compare is per trial:

- impossible: fewer liked items than ``n``. The last n scrolls of Eq. 1 can never be filled with
  liked items, so alignment and I_avg measure the pool, not the model;
- marginal: fewer liked items than ``scrolls``. A feed that has learnt the persona can run out of
  liked items before the last window and I_avg of a perfectly aligned viewer turns negative;
- ok: at least ``scrolls`` liked items.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from vbench.tasks.isq_induction.personas import Persona
from vbench.tasks.isq_induction.schwartz import VALUES

Status = Literal["ok", "marginal", "impossible"]


class Supply(BaseModel):
    persona: str
    platform: str
    values: list[str]
    liked: int
    pool: int
    status: Status

    def describe(self) -> str:
        return f"{self.persona} ({'/'.join(self.values)}) on {self.platform}: {self.liked} liked of {self.pool}"


def classify(liked: int, scrolls: int, n: int) -> Status:
    return "impossible" if liked < n else "marginal" if liked < scrolls else "ok"


def pool_supply(personas: list[Persona], pools: dict[str, np.ndarray], scrolls: int, n: int) -> dict[str, list[Supply]]:
    """persona id -> its supply on every platform pool (``pools``: platform -> value index per item)."""
    out: dict[str, list[Supply]] = {}
    for p in personas:
        targets = [VALUES.index(v) for v in p.values]
        out[p.id] = []
        for platform, values in pools.items():
            liked = int(np.isin(values, targets).sum())
            out[p.id].append(Supply(persona=p.id, platform=platform, values=p.values, liked=liked,
                                    pool=int(values.size), status=classify(liked, scrolls, n)))
    return out


def worst(supplies: list[Supply]) -> Status:
    order = ("ok", "marginal", "impossible")
    return max((s.status for s in supplies), key=order.index, default="ok")


def summary(supplies: list[Supply], limit: int = 5) -> str:
    shown = sorted(supplies, key=lambda s: (s.liked, s.persona, s.platform))
    text = "; ".join(s.describe() for s in shown[:limit])
    return text + (f"; … {len(shown) - limit} more" if len(shown) > limit else "")
