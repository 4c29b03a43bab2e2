"""Full conversations in samples.jsonl: every request's messages recoverable, each distinct message stored once."""
from __future__ import annotations

import json

from vbench.runners.dummy import DummyRunner
from vbench.runners.scheduler import EpisodeSpec, Scheduler
from vbench.types import ImagePart, Message, Record, Request, TextPart


class Recording(DummyRunner):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent: list[Request] = []

    def run(self, requests):
        self.sent += requests
        return super().run(requests)


def two_seat_game(rounds: int = 3):
    """Like the ultimatum engine: each seat keeps its own history; one seat's reply is the other's user turn."""
    hist = {s: [Message.system("be seat " + s), Message.user("you:", ImagePart(image="ab" * 32), "rules")]
            for s in "xy"}
    for r in range(rounds):
        for seat, other in (("x", "y"), ("y", "x")):
            hist[seat].append(Message.user(f"==round{r}=="))
            (resp,) = yield [Request(messages=tuple(hist[seat]), role="default")]
            hist[seat].append(Message.assistant(resp.text))
            hist[other].append(Message.user(resp.text))
    return {"done": True}


def run_episode(gen):
    runner = Recording(Recording.Args(vocab="offer accept reject sixty forty"), store=None)
    records: list[Record] = []
    Scheduler({"default": runner}).run([EpisodeSpec(episode_id="g", index=0, sample={}, gen=gen)], records.append)
    return runner.sent, records[0]


def test_every_turn_recovers_the_exact_messages_sent():
    sent, rec = run_episode(two_seat_game())
    assert len(rec.turns) == len(sent) == 6
    for i, req in enumerate(sent):
        assert rec.conversation(i) == list(req.messages)
    # and after a JSON round trip, as read back from samples.jsonl
    again = Record.model_validate_json(json.dumps(rec.model_dump(mode="json")))
    assert [again.conversation(i) for i in range(6)] == [list(r.messages) for r in sent]


def test_each_distinct_message_is_stored_once_and_replies_by_reference():
    sent, rec = run_episode(two_seat_game())
    distinct = {m.model_dump_json() for req in sent for m in req.messages}
    assert len(rec.messages) == len(distinct)
    stored_texts = [p.text for m in rec.messages for p in m.content if isinstance(p, TextPart)]
    replies = {t.response for t in rec.turns}
    assert not replies & set(stored_texts)  # every reply lives once, in its turn
    refs = [p for m in rec.messages for p in m.content if p.type == "turn"]
    # replies 0-4 reach the other seat (a user turn), replies 0-3 come back in their own seat's history
    assert sorted(p.turn for p in refs) == sorted([0, 1, 2, 3, 4] + [0, 1, 2, 3])


def test_the_logged_pair_run_holds_both_personas_and_all_turns(runs):
    for line in (runs["ultimatum_pair"] / "samples.jsonl").read_text().splitlines():
        rec = Record.model_validate_json(line)
        t = rec.outputs["transcript"]
        for i, turn in enumerate(rec.turns):
            conv = rec.conversation(i)
            assert conv[0].role == "system" and conv[0].text
            seat = "a" if turn.role == "player_a" else "b"
            own, opp = t["players"][seat]["image"], t["players"]["b" if seat == "a" else "a"]["image"]
            assert conv[1].images == [own, opp]  # own persona, then the opponent
            said_before = [x.response for x in rec.turns[:i] if x.role == turn.role]
            assert [m.text for m in conv if m.role == "assistant"] == said_before


def test_older_records_without_conversations_still_load():
    old = {"task": "t", "episode_id": "e", "index": 0,
           "turns": [{"step": 0, "role": "default", "kind": "generate", "prompt": "[image:ab]", "response": "x"}]}
    rec = Record.model_validate(old)
    assert rec.messages == [] and rec.conversation(0) is None


def test_run_folder_names_its_image_store(runs):
    from vbench.images import ImageStore, read_store_pointer

    for task, folder in runs.items():
        store = ImageStore(read_store_pointer(folder))
        rec = json.loads((folder / "samples.jsonl").read_text().splitlines()[0])
        images = [p["image"] for m in rec["messages"] for p in m["content"] if p["type"] == "image"]
        assert images, task
        assert all(store.get_bytes(h) for h in images)  # the store holds every image the run sent
