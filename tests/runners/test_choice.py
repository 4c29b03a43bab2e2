"""Option pooling and answer parsing shared by every backend."""
from __future__ import annotations

import math

import pytest

from vbench.runners.choice import (constrained_instruction, constrained_messages, normalize, one_hot, parse_choice,
                                  pool_option_probs, surface_variants)
from vbench.types import ImagePart, Message, Request

DIGITS = tuple("1234567")


def test_surface_variants_are_pooled_and_renormalised():
    tops = {"Yes": math.log(0.4), " yes": math.log(0.2), "YES.": math.log(0.1), "No": math.log(0.2), "Maybe": math.log(0.1)}
    probs, mass = pool_option_probs(tops, ["Yes", "No"])
    assert mass == pytest.approx(0.9)
    assert probs == pytest.approx({"Yes": 0.7 / 0.9, "No": 0.2 / 0.9})
    assert sum(probs.values()) == pytest.approx(1.0)


def test_tokenizer_markers_and_duplicate_decodings_both_count():
    pairs = [("\u25815", math.log(0.3)), ("\u01205", math.log(0.1)), ("5", math.log(0.2)), ("4", math.log(0.2))]
    probs, mass = pool_option_probs(pairs, DIGITS)
    assert mass == pytest.approx(0.8)
    assert probs["5"] == pytest.approx(0.75) and probs["4"] == pytest.approx(0.25)
    assert probs["1"] == 0.0


def test_no_matching_token_gives_uniform_probs_and_zero_mass():
    probs, mass = pool_option_probs({"The": -0.1, "I": -2.0}, DIGITS)
    assert mass == 0.0 and probs == pytest.approx({d: 1 / 7 for d in DIGITS})


def test_multi_token_option_matched_by_unique_prefix_only():
    probs, _ = pool_option_probs({"acc": math.log(0.6), "rej": math.log(0.2)}, ["accept", "reject"])
    assert probs == pytest.approx({"accept": 0.75, "reject": 0.25})
    # "1" is an exact option here, never a prefix of "10"
    probs, _ = pool_option_probs({"1": math.log(0.5), "10": math.log(0.5)}, ["1", "10"])
    assert probs == pytest.approx({"1": 0.5, "10": 0.5})
    # an ambiguous prefix counts for nobody
    assert pool_option_probs({"st": -0.1}, ["strongly agree", "strongly disagree"])[1] == 0.0


@pytest.mark.parametrize("text, expected", [
    ("5", "5"), (" 5.", "5"), ("Rating: 6/7", "6"), ("I would say 3, not 5", "3"),
    ("15", None), ("5.5", None), ("", None), (None, None), ("seven", None),
])
def test_parse_choice_digits(text, expected):
    assert parse_choice(text, DIGITS) == expected


def test_parse_choice_words_are_case_insensitive_whole_words():
    opts = ("Yes", "No")
    assert parse_choice("no.", opts) == "No"
    assert parse_choice("I think YES, definitely", opts) == "Yes"
    assert parse_choice("Nobody knows", opts) is None
    assert parse_choice("accept the offer", ("accept", "reject")) == "accept"


def test_hf_style_variant_scores_pool_like_top_tokens():
    variants = {v: math.log(0.1) for v in surface_variants("yes")} | {v: math.log(0.05) for v in surface_variants("no")}
    probs, mass = pool_option_probs(variants, ["yes", "no"])
    n_yes, n_no = len(surface_variants("yes")), len(surface_variants("no"))
    assert mass == pytest.approx(min(1.0, 0.1 * n_yes + 0.05 * n_no))
    assert probs["yes"] == pytest.approx(0.1 * n_yes / (0.1 * n_yes + 0.05 * n_no))


def test_one_hot_and_normalize():
    assert one_hot("2", ("1", "2")) == {"1": 0.0, "2": 1.0}
    assert one_hot(None, ("1", "2")) is None
    assert normalize(' "Yes". ') == "yes"


def test_constrained_messages_appends_the_option_list_to_the_last_user_turn():
    req = Request(kind="choose", options=("A", "B"),
                  messages=(Message.system("sys"), Message.user("q1"), Message.assistant("a1"),
                            Message.user(ImagePart(image="ab" * 32), "q2")))
    msgs = constrained_messages(req)
    assert msgs[:3] == req.messages[:3]
    assert msgs[3].images == ["ab" * 32]
    assert msgs[3].text == "q2\n" + constrained_instruction(["A", "B"])
    only_system = Request(kind="choose", options=("A",), messages=(Message.system("sys"),))
    assert constrained_messages(only_system)[-1].role == "user"
