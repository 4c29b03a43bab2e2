"""The game engine: message histories per seat, round markers, confederate script, lockstep yields."""
from __future__ import annotations

from vbench.tasks.base import Sample, TaskContext
from vbench.tasks.ultimatum.base import PROMPTS, profile
from vbench.tasks.ultimatum.game import GameConfig, Seat, merge_users, opening_parts, play
from vbench.tasks.ultimatum.pair import PairOptions, UltimatumPair
from vbench.tasks.ultimatum.solo import SoloOptions, UltimatumSolo
from vbench.images import ImageStore
from vbench.types import ImagePart, Message, Response

IMG_A, IMG_B = "a" * 64, "b" * 64


def drive(gen, reply):
    """Run an episode generator, answering each request with reply(request); returns (requests, outputs)."""
    seen = []
    try:
        reqs = next(gen)
        while True:
            seen.extend(reqs)
            reqs = gen.send([Response(text=reply(r)) for r in reqs])
    except StopIteration as stop:
        return seen, stop.value


def _ctx(tmp_path):
    return TaskContext(store=ImageStore(tmp_path / "img"), models={"default": "m0", "player_b": "m-b"})


def test_solo_first_order_follows_the_release(tmp_path):
    task = UltimatumSolo(SoloOptions(), _ctx(tmp_path))
    sample = Sample(id="p1/first", meta={"image": IMG_A, "image_id": "p1", "level": 3, "rating": 2.9, "order": "first"})
    reqs, out = drive(task.episode(sample, 0, 0), lambda r: "I propose $70 for me and $30 for you.")
    assert len(reqs) == 4  # the confederate never calls a model
    first = reqs[0]
    assert first.role == "player" and first.gen.temperature == 1.0 and first.gen.max_tokens == 300
    system, opening, marker = first.messages
    assert system.text == PROMPTS["profiles"]["paper"]["system"]
    assert opening.content[0].text == "You are the character in the following image:"
    assert isinstance(opening.content[1], ImagePart) and opening.content[1].image == IMG_A
    assert "You are the proposer in the first and third round." in opening.content[2].text
    assert "one can not make a counter-proposal" in opening.content[2].text
    assert marker.text == "===round1==="
    # round 2: marker, then the confederate's 50/50 proposal, then the model answers
    second = [m.text for m in reqs[1].messages[3:]]
    assert second == ["I propose $70 for me and $30 for you.", "As the responder, I accept your proposal.",
                      "===round2===", "As the proposer, I suggest an even split, $50 for me and $50 for you."]
    tr = out["transcript"]
    assert tr["players"]["a"]["kind"] == "model" and tr["players"]["b"]["kind"] == "confederate"
    assert tr["players"]["a"]["model"] == "m0"
    assert [t["player"] for t in tr["turns"]] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    offers = [o["offer"] for o in tr["outcomes"]]
    assert offers == [70, 50, 70, 75]
    assert [o["accepted"] for o in tr["outcomes"]] == [True, False, True, False]  # model counter-proposes


def test_solo_second_order_model_proposes_rounds_2_and_4(tmp_path):
    task = UltimatumSolo(SoloOptions(), _ctx(tmp_path))
    sample = Sample(id="p1/second", meta={"image": IMG_A, "image_id": "p1", "level": 3, "rating": 3.0, "order": "second"})
    reqs, out = drive(task.episode(sample, 0, 0), lambda r: "I accept.")
    assert "second and fourth round" in reqs[0].messages[1].content[2].text
    assert [m.text for m in reqs[0].messages[2:]] == [
        "===round1===", "As the proposer, I suggest an even split, $50 for me and $50 for you."]
    tr = out["transcript"]
    assert tr["players"]["b"]["kind"] == "model"
    assert [o["accepted"] for o in tr["outcomes"]][0::2] == [True, True]
    assert out["parse_ok"] is False  # "I accept." is no proposal in rounds 2 and 4


def test_pair_each_player_has_its_own_history(tmp_path):
    task = UltimatumPair(PairOptions(), _ctx(tmp_path))
    a = {"image": IMG_A, "image_id": "pa", "level": 1, "rating": 1.0}
    b = {"image": IMG_B, "image_id": "pb", "level": 7, "rating": 7.0}
    reqs, out = drive(task.episode(Sample(id="pa~pb", meta={"a": a, "b": b}), 0, 0),
                      lambda r: f"{r.role}: I propose $60 for me and $40 for you.")
    assert [r.role for r in reqs] == ["player_a", "player_b", "player_b", "player_a"] * 2
    op_a = reqs[0].messages[1].content
    assert [p.image for p in op_a if isinstance(p, ImagePart)] == [IMG_A, IMG_B]
    assert op_a[2].text == "The next image is your opponent:"
    op_b = reqs[1].messages[1].content
    assert [p.image for p in op_b if isinstance(p, ImagePart)] == [IMG_B, IMG_A]
    assert "rules of the ultimatum game" in op_b[-1].text  # release wording for the second player
    # the responder gets no round marker in Study 2, only the proposer's words
    assert reqs[1].messages[-1].text == "player_a: I propose $60 for me and $40 for you."
    assert reqs[2].messages[-1].text == "===round2==="
    tr = out["transcript"]
    assert tr["players"]["b"]["model"] == "m-b" and tr["players"]["a"]["model"] == "m0"
    assert tr["players"]["a"]["level"] == 1 and tr["players"]["b"]["level"] == 7


def test_uniform_profile_gives_both_players_the_standard_rules(tmp_path):
    task = UltimatumPair(PairOptions(prompt_profile="uniform"), _ctx(tmp_path))
    assert task.rules_text("pair_b", "second") == profile("paper")["rules"]["standard"].format(
        order="second and fourth")


def test_merge_user_turns():
    msgs = [Message.system("s"), Message.user("x"), Message.user("y"), Message.assistant("z"), Message.user("w")]
    merged = merge_users(msgs)
    assert [m.role for m in merged] == ["system", "user", "assistant", "user"]
    assert merged[1].text == "x\n\ny"
    seats = {k: Seat(key=k, info=None, request_role=f"player_{k}",  # type: ignore[arg-type]
                     opening=opening_parts(profile("paper"), "rules", IMG_A, None)) for k in "ab"}
    gen = play(seats, GameConfig(system="s", merge_user_turns=True))
    first = next(gen)[0]
    roles = [m.role for m in first.messages]
    assert roles == ["system", "user"] and first.messages[1].content[-1].text == "===round1==="
