"""ultimatum_solo (Study 1): the model, given a persona image, plays 4 rounds against a fixed confederate.

Every persona image is played in both orders (the model proposes in rounds 1+3, or 2+4) and
``--repeats`` times each (default 5). The confederate accepts every proposal and proposes 50/50, then
75/25 (its own share), as in the release.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from vbench.tasks.base import Sample
from vbench.tasks.ultimatum.base import PROMPTS, UltimatumOptions, UltimatumTask
from vbench.tasks.ultimatum.game import Seat
from vbench.tasks.ultimatum.transcripts import PlayerInfo, Seat as SeatKey, other_seat


class SoloOptions(UltimatumOptions):
    orders: Literal["both", "first", "second"] = Field("both", description="model proposes in rounds 1+3 (first), 2+4 (second) or both")


class UltimatumSolo(UltimatumTask[SoloOptions]):
    name = "ultimatum_solo"
    description = "Ultimatum game vs a fixed confederate with a visual persona (Kiss up, Kick down Study 1)"
    study = "solo"
    roles = ("player", "judge")

    def build_samples(self) -> list[Sample]:
        orders = ["first", "second"] if self.options.orders == "both" else [self.options.orders]
        limit = self.ctx.limit
        personas = self.personas(math.ceil(limit / len(orders)) if limit else None)
        samples = [Sample(id=f"{p.image_id}/{order}", meta={**p.info(), "order": order})
                   for p in personas for order in orders]
        return samples[:limit] if limit else samples

    def episode(self, sample: Sample, repeat: int, seed: int):
        order = sample.meta["order"]
        me: SeatKey = "a" if order == "first" else "b"
        conf = other_seat(me)
        seats = {
            me: self.model_seat(me, sample.meta, "player", self.rules_text("solo", order), None),
            conf: Seat(key=conf, info=PlayerInfo(kind="confederate", model="confederate"),
                       script=list(PROMPTS["confederate"][order])),
        }
        return (yield from self.play(sample, repeat, seats))
