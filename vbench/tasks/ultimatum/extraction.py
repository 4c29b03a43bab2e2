"""Round outcomes from turn text: the proposer's own share and the responder's accept/reject.

Default: a deterministic parser (``RULES``) for the forms models actually write — "$70 for me and $30
for you", "a 70-30 split", "I'll take 70, you get 30", "you receive $40" (⇒ own 60), percentages,
number words, even splits — and for responders accept/reject with negation ("I cannot accept"), where a
counter-proposal counts as a rejection with a flag (as the release scored it). Option: the paper's
LLM-judge prompts (``judge_requests`` + ``parse_judge_*``), sent through any runner.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from vbench.tasks.ultimatum.offers import OfferParse, parse_offer
from vbench.tasks.ultimatum.responses import ResponseParse, parse_response
from vbench.tasks.ultimatum.turntext import normalise
from vbench.types import GenParams, Message, Request

RULES = "rules/1"

# -- the release's LLM-judge prompts -----------------------------------------------------------
def judge_requests(prompts: dict, proposer_text: str | None, responder_text: str | None,
                   role: str = "judge") -> list[Request]:
    """Two requests per round (offer, acceptance) with the release's wording, temperature 0."""
    j, gen = prompts["judge"], GenParams(**prompts["judge_generation"])
    return [Request(kind="generate", role=role, gen=gen, messages=(
                Message.system(j[key]), Message.user(j["user"].format(text=text or ""))))
            for key, text in (("offer", proposer_text), ("acceptance", responder_text))]


_JUDGE_NUM = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)(?![\d])")


def parse_judge_offer(answer: str | None) -> float | None:
    m = _JUDGE_NUM.search(answer or "")
    return float(m.group(1)) if m and 0 <= float(m.group(1)) <= 100 else None


def parse_judge_acceptance(answer: str | None) -> bool | None:
    m = re.search(r"(?<!\d)([01])(?!\d)", answer or "")
    return None if m is None else m.group(1) == "1"


# -- whole games -----------------------------------------------------------------------------
def _parse_turn(item: tuple[str, str | None]) -> tuple[float | None, bool | None, bool]:
    role, text = item
    if role == "proposer":
        return parse_offer(text).offer, None, False
    r = parse_response(text)
    return None, r.accepted, r.counter_proposal


def rule_outcomes_many(transcripts: list) -> None:
    """Set every transcript's outcomes with the rules; turns are parsed in parallel for large sets."""
    from vbench.analysis.parallel import map_unique
    from vbench.tasks.ultimatum.transcripts import ROUNDS, Outcome

    items = []
    for t in transcripts:
        by_round = t.round_turns()
        for rnd in range(1, ROUNDS + 1):
            turns = by_round.get(rnd, {})
            for role in ("proposer", "responder"):
                turn = turns.get(role)
                items.append((role, turn.text if turn else None))
    parsed = map_unique(_parse_turn, items)
    k = 0
    for t in transcripts:
        outs = []
        for rnd in range(1, ROUNDS + 1):
            offer, (_, accepted, counter) = parsed[k][0], parsed[k + 1]
            k += 2
            outs.append(Outcome(round=rnd, proposer=t.proposer_of(rnd), offer=offer, accepted=accepted,
                                counter_proposal=counter, offer_nonanswer=offer is None,
                                response_nonanswer=accepted is None, extractor=RULES))
        t.outcomes = outs


def rule_outcomes(transcript) -> list:
    """One Outcome per round of a Transcript, from the deterministic parser."""
    from vbench.tasks.ultimatum.transcripts import ROUNDS, Outcome

    by_round = transcript.round_turns()
    out = []
    for rnd in range(1, ROUNDS + 1):
        turns = by_round.get(rnd, {})
        prop, resp = turns.get("proposer"), turns.get("responder")
        offer = parse_offer(prop.text if prop else None).offer
        response = parse_response(resp.text if resp else None)
        out.append(Outcome(round=rnd, proposer=transcript.proposer_of(rnd), offer=offer,
                           accepted=response.accepted, counter_proposal=response.counter_proposal,
                           offer_nonanswer=offer is None, response_nonanswer=response.accepted is None,
                           extractor=RULES))
    return out
