import pytest

from vbench.tasks.isq_induction.personas import Persona
from vbench.tasks.isq_induction.strategies import (ISQ_KEYS, SCALE, Strategy, isq_percent, parse_scale,
                                                   parse_structured, parse_yes_no, read_scale, read_yes_no)
from vbench.types import ImagePart, Response

IMG = ImagePart(image="ab" * 32)
PERSONA = Persona(id="p", traits=["I have a dog.", "I love pets."], values=["Benevolence"])


def scale_resp(k: int) -> Response:
    return Response(probs={s: float(s == str(k)) for s in SCALE}, method="logprobs")


def yn(p_yes: float) -> Response:
    return Response(probs={"yes": p_yes, "no": 1 - p_yes}, method="logprobs")


def test_isq_percent_is_the_papers_composite():
    top = dict(zip(ISQ_KEYS, [10, 10, 10, 10, 1, 1]))
    assert isq_percent(top) == pytest.approx(100)
    assert isq_percent(dict(zip(ISQ_KEYS, [5, 5, 5, 5, 1, 0]))) == pytest.approx(50)
    assert isq_percent(dict(zip(ISQ_KEYS, [1, 1, 1, 1, 0, 0]))) == pytest.approx(4 / 60 * 100)


def test_isq_decision_uses_strict_threshold():
    s = Strategy("isq", isq_score="argmax")
    # (7+7+8+8+10*1+10*0)/60 = 40/60 = 66.7% -> watch
    d = s.decide([scale_resp(7), scale_resp(7), scale_resp(8), scale_resp(8), yn(0.9), yn(0.1)])
    assert d.watch and d.score == pytest.approx(40 / 60 * 100) and d.parse_ok
    # exactly 60%: (6+6+6+6+10+2*0... ) -> 36/60 = 60 -> not > 60 -> skip
    d = s.decide([scale_resp(6), scale_resp(6), scale_resp(6), scale_resp(8), yn(0.8), yn(0.2)])
    assert d.score == pytest.approx(60) and not d.watch


def test_expected_vs_argmax_scoring():
    r = Response(probs={**{s: 0.0 for s in SCALE}, "2": 0.6, "10": 0.4}, method="logprobs")
    assert read_scale(r, "expected") == pytest.approx(0.6 * 2 + 0.4 * 10)
    assert read_scale(r, "argmax") == 2
    assert read_yes_no(yn(0.7), "expected") == pytest.approx(0.7)
    assert read_yes_no(yn(0.7), "argmax") == 1.0
    assert read_yes_no(yn(0.5), "argmax") == 0.0  # a tie is not a yes


def test_text_answers_are_parsed_when_there_are_no_probabilities():
    assert parse_yes_no("Yes, definitely.") == 1.0 and parse_yes_no("no") == 0.0 and parse_yes_no("maybe") is None
    assert parse_scale("I'd say 10/10") == 10 and parse_scale("7.") == 7 and parse_scale("Rating: 3.5") is None
    assert parse_scale("eleven") is None and parse_scale("0") is None
    assert read_scale(Response(text="8"), "expected") == 8


def test_structured_answer_parsing():
    text = ('Sure: {"visual_appeal": 8, "curiosity_stimulation": "7", "emotional_engagement": 6, '
            '"value_expectation": 9, "preference_alignment": "yes", "action_desire": false}')
    parts = parse_structured(text)
    assert parts == dict(zip(ISQ_KEYS, [8.0, 7.0, 6.0, 9.0, 1.0, 0.0]))
    sloppy = parse_structured("visual_appeal: 3, curiosity_stimulation=4, emotional_engagement: 12, "
                              "value_expectation: 2, preference_alignment: no, action_desire: yes")
    assert sloppy["visual_appeal"] == 3 and sloppy["emotional_engagement"] is None and sloppy["action_desire"] == 1
    s = Strategy("isq", isq_format="structured")
    d = s.decide([Response(text=text)])
    assert d.watch == (isq_percent(parts) > 60) and d.parse_ok
    assert not s.decide([Response(text="no idea")]).parse_ok


def test_requests_per_strategy():
    plain = Strategy("plain").requests(IMG, None)
    simple = Strategy("simple").requests(IMG, PERSONA)
    isq = Strategy("isq").requests(IMG, PERSONA)
    structured = Strategy("isq", isq_format="structured").requests(IMG, PERSONA)
    generate = Strategy("simple", answer="generate").requests(IMG, PERSONA)
    assert len(plain) == 1 and plain[0].options == ("yes", "no") and "I have a dog." not in plain[0].messages[0].text
    assert "I have a dog. I love pets." in simple[0].messages[0].text and "certain traits" in simple[0].messages[0].text
    assert len(isq) == 6 and all(r.messages[1].images == [IMG.image] for r in isq)
    assert [len(r.options) for r in isq] == [10, 10, 10, 10, 2, 2]
    assert len({r.messages[1].text for r in isq}) == 6
    assert len(structured) == 1 and structured[0].kind == "generate" and "JSON" in structured[0].messages[1].text
    assert generate[0].kind == "generate" and generate[0].options == ()


def test_unparseable_yes_no_is_a_skip_and_a_parse_failure():
    d = Strategy("simple", answer="generate").decide([Response(text="hmm")])
    assert not d.watch and not d.parse_ok
    d = Strategy("simple", answer="generate").decide([Response(text="Yes.")])
    assert d.watch and d.parse_ok


def test_isq_yes_no_parts_are_binary_on_every_backend_by_default():
    scales = [scale_resp(8)] * 4
    logprob = Strategy("isq").decide(scales + [yn(0.7), yn(0.3)])
    text = Strategy("isq").decide(scales + [Response(text="Yes"), Response(text="No")])
    assert logprob.parts["preference_alignment"] == 1.0 and logprob.parts["action_desire"] == 0.0
    assert logprob.score == text.score == pytest.approx((4 * 8 + 10) / 60 * 100)
    expected = Strategy("isq", isq_yes_no="expected").decide(scales + [yn(0.7), yn(0.3)])
    assert expected.parts["preference_alignment"] == pytest.approx(0.7)
    assert expected.score == pytest.approx((4 * 8 + 7 + 3) / 60 * 100)
