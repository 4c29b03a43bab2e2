"""The deterministic outcome parser against hand-labelled turns, plus the judge-answer parsers."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vbench.tasks.ultimatum.extraction import (parse_judge_acceptance, parse_judge_offer, parse_offer,
                                               parse_response)
from vbench.tasks.ultimatum.numbers import words_to_digits

LABELS = yaml.safe_load((Path(__file__).parent / "data" / "labelled_turns.yaml").read_text())


def _errors(batch_p: str, batch_r: str) -> tuple[int, list[str]]:
    wrong, n = [], 0
    for row in LABELS[batch_p]:
        n += 1
        want = None if row["offer"] is None else float(row["offer"])
        got = parse_offer(row["text"]).offer
        if got != want:
            wrong.append(f"offer {got} != {want}: {row['text']!r}")
    for row in LABELS[batch_r]:
        n += 1
        got = parse_response(row["text"])
        if (got.accepted, got.counter_proposal) != (row["accepted"], row.get("counter", False)):
            wrong.append(f"{got} != {row['accepted']}/{row.get('counter', False)}: {row['text']!r}")
    return n, wrong


def test_labelled_set_is_large_and_varied():
    n = sum(len(LABELS[k]) for k in LABELS)
    assert n >= 80
    offers = {r["offer"] for r in LABELS["proposer"]}
    assert {None, 50, 70}.issubset(offers) and len(offers) > 10
    assert any(r.get("counter") for r in LABELS["responder"])
    assert any(r["accepted"] is None for r in LABELS["responder"])


@pytest.mark.parametrize("batch", [("proposer", "responder"), ("proposer_heldout", "responder_heldout")])
def test_accuracy_on_labelled_turns(batch):
    n, wrong = _errors(*batch)
    accuracy = 1 - len(wrong) / n
    assert accuracy >= 0.97, "\n".join(wrong)


@pytest.mark.parametrize("text, own", [
    ("I propose $70 for me and $30 for you.", 70),
    ("You receive $40.", 60),
    ("a 30-70 split in your favor", 30),
    ("I'll take seventy-five, you get twenty-five.", 75),
    ("I want 2/3 of it, you get $33", 67),
    ("We split it equally.", 50),
    ("Even if you refuse, I will not change my mind.", None),
    ("In round 1 I said something. Nothing else.", None),
])
def test_offer_forms(text, own):
    got = parse_offer(text).offer
    assert got == (None if own is None else float(own))


def test_counter_proposal_is_a_flagged_rejection():
    r = parse_response("How about $60 for me and $40 for you?")
    assert r.accepted is False and r.counter_proposal
    r = parse_response("I accept, though I'd have proposed 60-40.")
    assert r.accepted is True and not r.counter_proposal
    r = parse_response("I don't accept.")
    assert r.accepted is False and not r.counter_proposal


def test_number_words():
    assert words_to_digits("ninety-nine and fifty-fifty") == "99 and 50-50"
    assert words_to_digits("one hundred dollars") == "100 dollars"
    assert words_to_digits("someone") == "someone"


def test_judge_answer_parsers():
    assert parse_judge_offer("70") == 70.0
    assert parse_judge_offer("The proposer asked for 65.5") == 65.5
    assert parse_judge_offer("none") is None
    assert parse_judge_offer("250") is None
    assert parse_judge_acceptance("1") is True
    assert parse_judge_acceptance(" 0\n") is False
    assert parse_judge_acceptance("10") is None
