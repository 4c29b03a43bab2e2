"""Synthetic game transcripts with a known "kiss up, kick down" effect, for tests and benchmarks.

Offers follow ``50 + own_effect·(own−4) + opponent_effect·(opp−4) + noise``; acceptance falls as the
offered share shrinks; low levels say "we" more. Texts vary in wording, so the extractor and the text
measures do real work. These are NOT model outputs.
"""
from __future__ import annotations

import random
from typing import Literal

from vbench.tasks.ultimatum.transcripts import PlayerInfo, Players, Transcript, TurnText, other_seat, scheduled_proposer

_OPENERS = ["", "As a proud warrior, ", "Considering my character, ", "Well, ", "Hmm. ", "Let me be clear: ",
            "In the spirit of fairness, ", "As the proposer in this round, ", "Listen carefully. ", "Friend, "]
_PROPOSALS = [
    "I propose a division of ${own} for me and ${other} for you. Do you accept or reject this proposal?",
    "I shall propose a {own}-{other} split. I shall take ${own}, and you shall receive ${other}.",
    "I'll take {own}, you get {other}.",
    "You receive ${other} and I keep the rest.",
    "My proposal: {own}% for me, {other}% for you.",
    "I offer you ${other}.",
    "How about ${own} for me and ${other} for you?",
    "I propose that we split the $100 as follows: ${own} for me and ${other} for you.",
]
_WE = ["We can both walk away happy.", "Let's work together on this.", "Our partnership matters to us both.",
       "We should keep this fair for both of us."]
_ME = ["I deserve the larger share.", "My strength earns me this.", "I will not be generous.",
       "I know my worth, and I expect you to respect it."]
_ACCEPT = ["As the responder, I accept your proposal.", "I accept.", "Deal. I accept the offer.",
           "I agree to your proposal; it seems fair.", "Fine, I'll take it.", "I happily accept, thank you!"]
_REJECT = ["I reject your proposal.", "I cannot accept this proposal. It is unfair.", "No. I reject it.",
           "I decline your offer; it insults me.", "I reject this proposal. How about a 50-50 split instead?"]


def _say_offer(rng: random.Random, own: int, level: int) -> str:
    flavour = rng.choice(_WE if level <= 3 else _ME) if rng.random() < 0.7 else ""
    text = rng.choice(_OPENERS) + rng.choice(_PROPOSALS).format(own=own, other=100 - own)
    return f"{text} {flavour} (token {rng.randrange(10**6)})".strip()


def simulate_transcripts(n_games: int, study: Literal["solo", "pair"] = "pair", seed: int = 0,
                         own_effect: float = 3.0, opponent_effect: float = -2.0, n_levels: int = 7,
                         models: tuple[str, str] = ("sim-model", "sim-model")) -> list[Transcript]:
    rng = random.Random(seed)
    out = []
    for g in range(n_games):
        levels = {"a": rng.randint(1, n_levels), "b": rng.randint(1, n_levels)}
        conf = None if study == "pair" else rng.choice("ab")
        players = {}
        for seat, model in zip("ab", models):
            if seat == conf:
                players[seat] = PlayerInfo(kind="confederate", model="confederate")
            else:
                players[seat] = PlayerInfo(model=model, role=f"player_{seat}", image_id=f"img{levels[seat]}-{rng.randrange(5)}",
                                           level=levels[seat], rating=float(levels[seat]))
        turns = []
        for rnd in range(1, 5):
            p = scheduled_proposer(rnd)
            r = other_seat(p)
            if p == conf:
                own = 50 if rnd <= 2 else 75
                prop = f"As the proposer, I suggest a division of ${own} for me and ${100 - own} for you."
            else:
                opp = levels[r] if conf is None else 4
                own = round(50 + own_effect * (levels[p] - 4) + opponent_effect * (opp - 4) + rng.gauss(0, 5))
                own = max(0, min(100, own))
                prop = _say_offer(rng, own, levels[p])
            if r == conf:
                resp = "As the responder, I accept your proposal."
            else:
                accept = rng.random() < min(1.0, max(0.0, (100 - own) / 50))
                resp = rng.choice(_ACCEPT if accept else _REJECT)
            turns += [TurnText(round=rnd, role="proposer", player=p, text=prop),
                      TurnText(round=rnd, role="responder", player=r, text=resp)]
        out.append(Transcript(game_id=f"sim-{g:06d}", study=study, players=Players(**players), turns=turns))
    return out
