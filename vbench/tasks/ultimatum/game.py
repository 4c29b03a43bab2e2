"""The one ultimatum game engine both tasks play: 4 rounds over $100, alternating proposer/responder.

Each model seat keeps its own chat history (system prompt, persona image[s] + rules, then the round
markers and the other player's words as user turns, its own words as assistant turns), exactly as the
release built it. A confederate seat speaks from a fixed script and never calls a model. The engine is
a generator: it yields one Request per model turn, so the scheduler advances every game in lockstep.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generator, Literal

from vbench.tasks.ultimatum.extraction import (RULES, judge_requests, parse_judge_acceptance, parse_judge_offer,
                                               rule_outcomes)
from vbench.tasks.ultimatum.transcripts import (ROUNDS, PlayerInfo, Players, Seat as SeatKey, TurnRole, TurnText,
                                               Transcript, other_seat, scheduled_proposer)
from vbench.types import GenParams, ImagePart, Message, Part, Request, Response, TextPart


@dataclass
class Seat:
    """One player. ``key`` "a" proposes in rounds 1 and 3, "b" in rounds 2 and 4."""

    key: SeatKey
    info: PlayerInfo
    request_role: str = "player"
    opening: list[Part] = field(default_factory=list)  # first user turn: persona image(s) + rules
    script: list[str] | None = None  # confederate lines, one per round
    history: list[Message] = field(default_factory=list)

    @property
    def is_model(self) -> bool:
        return self.script is None


@dataclass(frozen=True)
class GameConfig:
    system: str
    round_marker: str = "===round{n}==="
    marker_to: Literal["all", "proposer"] = "proposer"
    gen: GenParams = GenParams(temperature=1.0, max_tokens=300)
    merge_user_turns: bool = False


def opening_parts(prompt: dict[str, Any], rules: str, own_image: str, opponent_image: str | None) -> list[Part]:
    """"You are the character in the following image:" + image [+ opponent intro + image] + rules."""
    parts: list[Part] = [TextPart(text=prompt["persona_intro"]), ImagePart(image=own_image)]
    if opponent_image is not None:
        parts += [TextPart(text=prompt["opponent_intro"]), ImagePart(image=opponent_image)]
    parts.append(TextPart(text=rules))
    return parts


def merge_users(messages: list[Message]) -> tuple[Message, ...]:
    """Join adjacent user turns (for chat templates that demand strict user/assistant alternation)."""
    out: list[Message] = []
    for m in messages:
        if out and m.role == "user" and out[-1].role == "user":
            out[-1] = Message(role="user", content=[*out[-1].content, TextPart(text="\n\n"), *m.content])
        else:
            out.append(m)
    return tuple(out)


def play(seats: dict[SeatKey, Seat], cfg: GameConfig) -> Generator[list[Request], list[Response], list[TurnText]]:
    """Play the 4 rounds; yields one request per model turn and returns the turn texts."""
    for seat in seats.values():
        if seat.is_model:
            seat.history = [Message.system(cfg.system), Message(role="user", content=seat.opening)]
    turns: list[TurnText] = []
    for rnd in range(1, ROUNDS + 1):
        proposer = scheduled_proposer(rnd)
        order: tuple[tuple[TurnRole, SeatKey], ...] = (("proposer", proposer), ("responder", other_seat(proposer)))
        for role, key in order:  # round notice first, before anything else said in the round
            seat = seats[key]
            if seat.is_model and (role == "proposer" or cfg.marker_to == "all"):
                seat.history.append(Message.user(cfg.round_marker.format(n=rnd)))
        for role, key in order:
            seat, other = seats[key], seats[other_seat(key)]
            if seat.script is not None:  # the confederate says its line
                text = seat.script[rnd - 1]
            else:
                msgs = merge_users(seat.history) if cfg.merge_user_turns else tuple(seat.history)
                responses = yield [Request(kind="generate", messages=msgs, gen=cfg.gen, role=seat.request_role)]
                text = responses[0].text or ""
                seat.history.append(Message.assistant(text))
            if other.is_model:
                other.history.append(Message.user(text))
            turns.append(TurnText(round=rnd, role=role, player=key, text=text))
    return turns


def judged_outcomes(transcript: Transcript, prompts: dict, role: str = "judge"):
    """Generator: the release's LLM-judge extraction for all rounds in one step (flags from the rules)."""
    rules = rule_outcomes(transcript)
    by_round = transcript.round_turns()
    reqs: list[Request] = []
    for rnd in range(1, ROUNDS + 1):
        turns = by_round.get(rnd, {})
        prop, resp = turns.get("proposer"), turns.get("responder")
        reqs += judge_requests(prompts, prop.text if prop else None, resp.text if resp else None, role)
    answers = yield reqs
    out = []
    for i, base in enumerate(rules):
        offer = parse_judge_offer(answers[2 * i].text)
        accepted = parse_judge_acceptance(answers[2 * i + 1].text)
        out.append(base.model_copy(update={"offer": offer, "accepted": accepted, "offer_nonanswer": offer is None,
                                           "response_nonanswer": accepted is None, "extractor": "judge"}))
    return out


def run_game(game_id: str, study: Literal["solo", "pair"], seats: dict[SeatKey, Seat], cfg: GameConfig, *,
             extractor: Literal["rules", "judge"] = "rules", prompts: dict | None = None, repeat: int = 0,
             meta: dict | None = None):
    """Episode body shared by both tasks: play, extract, return the outputs stored in the Record."""
    turns = yield from play(seats, cfg)
    transcript = Transcript(game_id=game_id, study=study, players=Players(a=seats["a"].info, b=seats["b"].info),
                            turns=turns, repeat=repeat, meta=meta or {})
    if extractor == "judge":
        outcomes = yield from judged_outcomes(transcript, prompts or {})
    else:
        outcomes = rule_outcomes(transcript)
    transcript.outcomes = outcomes
    return episode_outputs(transcript)


def episode_outputs(transcript: Transcript) -> dict[str, Any]:
    """``parse_ok``: every model turn of the game gave a usable offer/answer."""
    return {"transcript": transcript.model_dump(mode="json"), "parse_ok": transcript.model_turns_usable(),
            "extractor": transcript.outcomes[0].extractor if transcript.outcomes else RULES}
