"""The ultimatum transcript schema (JSONL, one game per line) and its loader.

Every eval run stores one transcript per game in ``samples.jsonl`` (``outputs.transcript``); other tools
can write the same records directly. ``vbench analyze ultimatum`` reads either form and recomputes
every metric from these fields alone. Bad records stop the load with one line naming the record and
the field, before anything is written.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from vbench.errors import UsageError

SCHEMA_VERSION = "1"
ROUNDS = 4
Seat = Literal["a", "b"]
TurnRole = Literal["proposer", "responder"]


def other_seat(seat: Seat) -> Seat:
    return "b" if seat == "a" else "a"


def scheduled_proposer(rnd: int) -> Seat:
    """Who proposes in a round: seat a in rounds 1 and 3, seat b in rounds 2 and 4."""
    return "a" if rnd % 2 else "b"


class PlayerInfo(BaseModel):
    """One seat of the game. Seat ``a`` proposes in rounds 1 and 3, seat ``b`` in rounds 2 and 4."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    kind: Literal["model", "confederate"] = "model"
    model: str | None = Field(None, description="model name (null when unknown)")
    role: str | None = Field(None, description="vbench model role that played this seat")
    image_id: str | None = Field(None, description="persona image id")
    image: str | None = Field(None, description="sha256 of the persona image bytes")
    level: int | None = Field(None, ge=1, description="aggressiveness level (1 = least aggressive)")
    rating: float | None = Field(None, description="aggressiveness score the level was binned from")

    @field_validator("image_id", mode="before")
    @classmethod
    def _int_id(cls, v: Any) -> Any:
        """Integer ids (as in spreadsheets) are ids too."""
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class Players(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: PlayerInfo
    b: PlayerInfo

    def seat(self, key: str) -> PlayerInfo:
        return self.a if key == "a" else self.b


class TurnText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round: int = Field(ge=1, le=ROUNDS)
    role: TurnRole
    player: Seat
    text: str | None = Field(description="what the player said (null = no output)")


class Outcome(BaseModel):
    """Extracted result of one round. ``offer`` is the PROPOSER'S OWN share of $100."""

    model_config = ConfigDict(extra="forbid")
    round: int = Field(ge=1, le=ROUNDS)
    proposer: Seat
    offer: float | None = Field(None, ge=0, le=100)
    accepted: bool | None = None
    counter_proposal: bool = False
    offer_nonanswer: bool = False
    response_nonanswer: bool = False
    extractor: str = "given"


class Transcript(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: str = SCHEMA_VERSION
    game_id: str
    study: Literal["solo", "pair"] | None = Field(None, description="inferred from the players when absent")
    players: Players
    turns: list[TurnText]
    outcomes: list[Outcome] = Field(default_factory=list)
    repeat: int = 0
    meta: dict[str, Any] = Field(default_factory=dict)
    # which outcome fields ("offer", "accepted") the input gave per round, after dropping invalid labels
    _given: dict[int, frozenset[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "Transcript":
        if self.study is None:
            kinds = {self.players.a.kind, self.players.b.kind}
            self.study = "solo" if "confederate" in kinds else "pair"
        seen: dict[tuple[int, str], str] = {}
        for i, t in enumerate(self.turns):
            if (t.round, t.role) in seen:
                raise ValueError(f"turns.{i}: round {t.round} has two {t.role} turns")
            other = seen.get((t.round, "responder" if t.role == "proposer" else "proposer"))
            if other == t.player:
                raise ValueError(f"turns.{i}: player {t.player} is both proposer and responder in round {t.round}")
            seen[(t.round, t.role)] = t.player
        return self

    # -- views used by extraction and metrics ---------------------------------------------
    def round_turns(self) -> dict[int, dict[str, TurnText]]:
        out: dict[int, dict[str, TurnText]] = {}
        for t in self.turns:
            out.setdefault(t.round, {})[t.role] = t
        return out

    def proposer_of(self, rnd: int) -> Seat:
        turn = self.round_turns().get(rnd, {})
        if "proposer" in turn:
            return turn["proposer"].player
        if "responder" in turn:
            return other_seat(turn["responder"].player)
        return scheduled_proposer(rnd)

    def model_turns_usable(self) -> bool:
        """True when every model turn has an extracted offer (proposer) or answer (responder)."""
        kinds = {"a": self.players.a.kind, "b": self.players.b.kind}
        for o in self.outcomes:
            responder = "b" if o.proposer == "a" else "a"
            if (kinds[o.proposer] == "model" and o.offer is None) or (kinds[responder] == "model" and o.accepted is None):
                return False
        return len(self.outcomes) == ROUNDS


def _where(path: str, line: int, obj: Any) -> str:
    gid = obj.get("game_id") if isinstance(obj, dict) else None
    return f"{path}:{line}" + (f" (game {gid})" if gid else "")


def _validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"field {loc} is missing"
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc}"
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {json.dumps(got)[:60]})"
    return f"field {loc}: {msg}{shown}" if loc else msg


class DroppedLabels(BaseModel):
    """Given outcome labels left out because they cannot be right; those fields are extracted instead."""

    offer_out_of_range: int = 0  # not a number in 0-100
    accepted_invalid: int = 0  # not true/false/null (or 0/1)
    outcome_invalid: int = 0  # not an object, or round/proposer missing or wrong

    def total(self) -> int:
        return self.offer_out_of_range + self.accepted_invalid + self.outcome_invalid


_ACCEPTED = {"true": True, "false": False, "1": True, "0": False, "none": None, "null": None}


def _accepted_label(v: Any) -> tuple[bool, bool | None]:
    """(valid, value) of a given ``accepted``: true/false/null, 0/1 or their strings."""
    if v is None or isinstance(v, bool):
        return True, v
    key = str(v).strip().lower() if isinstance(v, (int, str)) else None
    return (True, _ACCEPTED[key]) if key in _ACCEPTED else (False, None)


def _clean_outcomes(obj: dict, dropped: DroppedLabels) -> dict[int, frozenset[str]]:
    """Drop impossible labels from ``obj["outcomes"]`` in place; returns the fields given per round."""
    raw = obj.get("outcomes")
    if not isinstance(raw, list):
        return {}
    kept, given = [], {}
    for o in raw:
        rnd = o.get("round") if isinstance(o, dict) else None
        if (not isinstance(rnd, int) or isinstance(rnd, bool) or not 1 <= rnd <= ROUNDS or rnd in given
                or o.get("proposer") not in ("a", "b")):
            dropped.outcome_invalid += 1
            continue
        o, fields = dict(o), set()
        if "offer" in o:
            v = o["offer"]
            if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100):
                fields.add("offer")
            else:
                dropped.offer_out_of_range += 1
                o.pop("offer")
        if "accepted" in o:
            ok, value = _accepted_label(o["accepted"])
            if ok:
                o["accepted"] = value
                fields.add("accepted")
            else:
                dropped.accepted_invalid += 1
                o.pop("accepted")
        kept.append(o)
        given[rnd] = frozenset(fields)
    obj["outcomes"] = kept
    return given


def parse_transcript(obj: Any, where: str, n_levels: int = 7, dropped: DroppedLabels | None = None) -> Transcript:
    given = _clean_outcomes(obj, dropped if dropped is not None else DroppedLabels()) if isinstance(obj, dict) else {}
    try:
        tr = Transcript.model_validate(obj)
    except ValidationError as exc:
        raise UsageError(f"{where}: {_validation_message(exc)}") from None
    for seat in ("a", "b"):
        level = tr.players.seat(seat).level
        if level is not None and level > n_levels:
            raise UsageError(f"{where}: field players.{seat}.level: {level} is not a known level (1-{n_levels})")
    tr._given = given
    return tr


class LoadResult(BaseModel):
    transcripts: list[Transcript]
    errored_games: int = 0  # vbench records whose episode failed (no transcript), counted not dropped
    sources: list[str] = Field(default_factory=list)
    dropped_labels: DroppedLabels = Field(default_factory=DroppedLabels)


def load_transcripts(paths: Iterable[str | Path], n_levels: int = 7) -> LoadResult:
    """Read transcript JSONL files: bare transcripts or vbench ``samples.jsonl`` records."""
    out, errored, sources, dropped = [], 0, [], DroppedLabels()
    for p in paths:
        path = Path(p)
        if path.is_dir():
            path = path / "samples.jsonl"
        if not path.is_file():
            raise UsageError(f"transcripts file not found: {p}")
        sources.append(str(path))
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                if not isinstance(obj, dict):
                    raise UsageError(f"{path}:{n}: expected a JSON object per line")
                if "episode_id" in obj and "outputs" in obj:  # a vbench samples.jsonl record
                    if obj.get("status") == "error":
                        errored += 1
                        continue
                    tr = (obj.get("outputs") or {}).get("transcript")
                    if tr is None:
                        raise UsageError(f"{path}:{n} (episode {obj['episode_id']}): field outputs.transcript is "
                                         "missing (not an ultimatum run?)")
                    obj = tr
                out.append(parse_transcript(obj, _where(str(path), n, obj), n_levels, dropped))
    return LoadResult(transcripts=out, errored_games=errored, sources=sources, dropped_labels=dropped)


def dump_jsonl(transcripts: Iterable[Transcript]) -> str:
    return "".join(json.dumps(t.model_dump(mode="json"), separators=(",", ":")) + "\n" for t in transcripts)
