"""Round outcomes from turn text: the proposer's own share and the responder's accept/reject.

Default: the deterministic rules (``RULES``; ``offers.parse_offer`` and ``responses.parse_response``
over text prepared by ``turntext``), scored against the hand-labelled turns in
tests/ultimatum/data/. A counter-proposal counts as a rejection with a flag, as the release scored it.
Option: the paper's LLM-judge prompts (``judge_requests`` + ``parse_judge_*``), sent through any runner.
This module also applies the rules to whole games, keeping given labels on request.
"""
from __future__ import annotations

import re

from vbench.tasks.ultimatum.offers import OfferParse, parse_offer
from vbench.tasks.ultimatum.responses import ResponseParse, parse_response
from vbench.tasks.ultimatum.transcripts import ROUNDS, Outcome, Seat, Transcript
from vbench.tasks.ultimatum.turntext import normalise
from vbench.types import GenParams, Message, Request

RULES = "rules/2"
__all__ = ["RULES", "OfferParse", "ResponseParse", "judge_requests", "normalise", "parse_judge_acceptance",
           "parse_judge_offer", "parse_offer", "parse_response", "rule_outcomes", "rule_outcomes_many"]

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


def _merge(given: Outcome | None, fields: frozenset[str], rnd: int, proposer: Seat,
           offer: float | None, response: tuple[bool | None, bool]) -> Outcome:
    """One round's outcome: the given fields kept, the others from the rules."""
    given_offer = given if given is not None and "offer" in fields else None
    given_answer = given if given is not None and "accepted" in fields else None
    if given_offer is not None and given_answer is not None and fields == {"offer", "accepted"}:
        return given_offer
    if given_offer is not None:
        offer = given_offer.offer
    accepted, counter = (given_answer.accepted, given_answer.counter_proposal) if given_answer is not None else response
    extractor = RULES if given_offer is None and given_answer is None else f"given+{RULES}"
    return Outcome(round=rnd, proposer=proposer, offer=offer, accepted=accepted, counter_proposal=counter,
                   offer_nonanswer=given_offer.offer_nonanswer if given_offer is not None else offer is None,
                   response_nonanswer=given_answer.response_nonanswer if given_answer is not None else accepted is None,
                   extractor=extractor)


# per round: (given outcome, given fields, proposer, offer's index in the parsed turns, answer's index)
_RoundPlan = tuple[Outcome | None, frozenset[str], Seat, int | None, int | None]


def rule_outcomes_many(transcripts: list[Transcript], keep_given: bool = False) -> None:
    """Set every transcript's outcomes with the rules, in parallel for large sets.

    ``keep_given``: fields the input gave (``Transcript._given``) are kept and only the rest is parsed.
    """
    from vbench.analysis.parallel import map_unique

    items: list[tuple[str, str | None]] = []
    plan: list[list[_RoundPlan]] = []
    for t in transcripts:
        by_round = t.round_turns()
        given = {o.round: o for o in t.outcomes} if keep_given else {}
        rounds: list[_RoundPlan] = []
        for rnd in range(1, ROUNDS + 1):
            fields = t._given.get(rnd, frozenset()) if rnd in given else frozenset()
            idx: list[int | None] = []
            for role, field in (("proposer", "offer"), ("responder", "accepted")):
                turn = by_round.get(rnd, {}).get(role)
                idx.append(None if field in fields else len(items))
                if field not in fields:
                    items.append((role, turn.text if turn else None))
            rounds.append((given.get(rnd), fields, t.proposer_of(rnd), idx[0], idx[1]))
        plan.append(rounds)
    parsed = map_unique(_parse_turn, items)
    for t, rounds in zip(transcripts, plan):
        outs = []
        for rnd, (kept, fields, proposer, i_offer, i_answer) in enumerate(rounds, 1):
            offer = parsed[i_offer][0] if i_offer is not None else None
            response = parsed[i_answer][1:] if i_answer is not None else (None, False)
            outs.append(_merge(kept, fields, rnd, proposer, offer, response))
        t.outcomes = outs


def rule_outcomes(transcript: Transcript) -> list[Outcome]:
    """One Outcome per round of a Transcript, from the deterministic parser."""
    copy = transcript.model_copy()
    rule_outcomes_many([copy])
    return copy.outcomes
