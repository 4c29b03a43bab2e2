"""The deterministic outcome parser against hand-labelled turns, plus the judge-answer parsers."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vbench.tasks.ultimatum.extraction import (parse_judge_acceptance, parse_judge_offer, parse_offer,
                                               parse_response)
from vbench.tasks.ultimatum.numbers import words_to_digits

DATA = Path(__file__).parent / "data"
LABELS = yaml.safe_load((DATA / "labelled_turns.yaml").read_text())
STYLED = yaml.safe_load((DATA / "styled_turns.yaml").read_text())
HELDOUT = yaml.safe_load((DATA / "styled_turns_heldout.yaml").read_text())


def _original() -> list[dict]:
    """The first 143 turns (no role field: the batch name says it)."""
    return [dict(r, role="proposer" if batch.startswith("proposer") else "responder")
            for batch, rows in LABELS.items() for r in rows]


def _score(rows: list[dict]) -> dict[str, tuple[int, list[str]]]:
    """(n, wrong) for offers, decisions and counter flags."""
    out: dict[str, tuple[int, list[str]]] = {k: (0, []) for k in ("offer", "accepted", "counter")}

    def add(key: str, ok: bool, msg: str) -> None:
        n, wrong = out[key]
        out[key] = (n + 1, wrong if ok else wrong + [msg])

    for r in rows:
        if r["role"] == "proposer":
            want = None if r["offer"] is None else float(r["offer"])
            got = parse_offer(r["text"]).offer
            add("offer", got == want, f"offer {got} != {want}: {r['text']!r}")
        else:
            got = parse_response(r["text"])
            add("accepted", got.accepted == r["accepted"], f"accepted {got.accepted} != {r['accepted']}: {r['text']!r}")
            counter = r.get("counter", False)
            add("counter", got.counter_proposal == counter, f"counter {got.counter_proposal} != {counter}: {r['text']!r}")
    return out


def test_labelled_set_is_large_and_varied():
    rows = _original() + STYLED + HELDOUT
    assert len(rows) >= 400 and len(HELDOUT) >= 0.2 * len(rows)
    assert {r["role"] for r in STYLED} == {r["role"] for r in HELDOUT} == {"proposer", "responder"}
    assert all(1 <= r["round"] <= 4 for r in STYLED + HELDOUT)
    styles = {r["style"] for r in STYLED}
    assert {"terse", "roleplay", "hedging", "recap", "refusal", "pirate", "archaic", "non-native"} <= styles
    assert len({s for s in styles if s.startswith("family-")}) >= 12
    offers = {r["offer"] for r in rows if r["role"] == "proposer"}
    assert {None, 50, 70}.issubset(offers) and len(offers) > 20
    answers = [r for r in rows if r["role"] == "responder"]
    assert any(r.get("counter") for r in answers) and any(r["accepted"] is None for r in answers)


def test_original_turns_all_right():
    for _key, (_n, wrong) in _score(_original()).items():
        assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("key", ["offer", "accepted", "counter"])
def test_accuracy_on_the_whole_labelled_set(key):
    n, wrong = _score(_original() + STYLED + HELDOUT)[key]
    assert 1 - len(wrong) / n >= 0.98, "\n".join(wrong)


@pytest.mark.parametrize("key", ["offer", "accepted", "counter"])
def test_accuracy_on_the_held_out_turns(key):
    n, wrong = _score(HELDOUT)[key]
    assert n >= 25 and 1 - len(wrong) / n >= 0.9, "\n".join(wrong)


def test_rules_read_the_known_failure_families():
    cases = {"I cannot in good conscience accept this.": False, "Should I accept or reject? I accept.": True,
             "I will accept nothing less than a fair share.": False, "This deal does not enchant me. I decline.": False,
             "Accepted.\n\n=== Round 2 ===\nI reject your offer.": True}
    for text, accepted in cases.items():
        assert parse_response(text).accepted is accepted, text
    offers = {"I'll take 80% of the $100 for myself.": 80, "Last round you kept $70. I propose $55 for me.": 55,
              "A 70/30 split, the bigger share going to yours truly.": 70, "A 60-40 split in favour of my opponent.": 40,
              "Me share: $60.": 60, "$80 - is mine.": 80, "55 pieces for myself.": 55, "We both get $50.": 50,
              "I propose me keeping $80, you $20.": 80}
    for text, own in offers.items():
        assert parse_offer(text).offer == own, text


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


def test_word_start_scan_finds_what_finditer_finds():
    from vbench.tasks.ultimatum.responses import _COUNTER_AHEAD, _CUES
    from vbench.tasks.ultimatum.turntext import _NOW, _PAST, normalise, scan, sentences

    texts = [r["text"] for r in _original() + STYLED + HELDOUT]
    for pattern in (_CUES, _COUNTER_AHEAD, _PAST, _NOW):
        for text in texts:
            for s in sentences(normalise(text)):
                assert [m.span() for m in scan(pattern, s)] == [m.span() for m in pattern.finditer(s)], s


def test_sentences_and_own_part():
    from vbench.tasks.ultimatum.turntext import own_part, sentences

    assert sentences("I take $3.50. You get the rest!\nDeal? Hmm... no.") == [
        "I take $3.50.", "You get the rest!", "Deal?", "Hmm...", "no."]
    assert own_part("I accept.\n\n=== Round 2 ===\nI propose 70-30.") == "I accept.\n\n"
    assert own_part("=== Round 1 ===\nI propose 60-40.\nResponder: I reject.").strip() == "I propose 60-40."
