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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vbench.errors import UsageError

SCHEMA_VERSION = "1"
ROUNDS = 4
Seat = Literal["a", "b"]


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


class Players(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: PlayerInfo
    b: PlayerInfo

    def seat(self, key: str) -> PlayerInfo:
        return self.a if key == "a" else self.b


class TurnText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round: int = Field(ge=1, le=ROUNDS)
    role: Literal["proposer", "responder"]
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

    def proposer_of(self, rnd: int) -> str:
        turn = self.round_turns().get(rnd, {})
        if "proposer" in turn:
            return turn["proposer"].player
        if "responder" in turn:
            return "b" if turn["responder"].player == "a" else "a"
        return "a" if rnd % 2 else "b"

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


def parse_transcript(obj: Any, where: str, n_levels: int = 7) -> Transcript:
    try:
        tr = Transcript.model_validate(obj)
    except ValidationError as exc:
        raise UsageError(f"{where}: {_validation_message(exc)}") from None
    for seat in ("a", "b"):
        level = tr.players.seat(seat).level
        if level is not None and level > n_levels:
            raise UsageError(f"{where}: field players.{seat}.level: {level} is not a known level (1-{n_levels})")
    return tr


class LoadResult(BaseModel):
    transcripts: list[Transcript]
    errored_games: int = 0  # vbench records whose episode failed (no transcript), counted not dropped
    sources: list[str] = Field(default_factory=list)


def load_transcripts(paths: Iterable[str | Path], n_levels: int = 7) -> LoadResult:
    """Read transcript JSONL files: bare transcripts or vbench ``samples.jsonl`` records."""
    out, errored, sources = [], 0, []
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
                out.append(parse_transcript(obj, _where(str(path), n, obj), n_levels))
    return LoadResult(transcripts=out, errored_games=errored, sources=sources)


def dump_jsonl(transcripts: Iterable[Transcript]) -> str:
    return "".join(json.dumps(t.model_dump(mode="json"), separators=(",", ":")) + "\n" for t in transcripts)
