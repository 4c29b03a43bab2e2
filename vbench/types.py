"""The typed objects that travel along the one data path: Message → Request → Response → Record.

Images never travel inline: an image part holds the sha256 of the image bytes, resolved through the
content-addressed :class:`vbench.images.ImageStore` only by the runner that needs pixels.
"""
from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["image"] = "image"
    image: str = Field(description="sha256 of the encoded image bytes in the ImageStore")


Part = Annotated[Union[TextPart, ImagePart], Field(discriminator="type")]
Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn; content is a list of text and image parts (OpenAI-style)."""

    model_config = ConfigDict(frozen=True)
    role: Role
    content: list[Part]

    @classmethod
    def of(cls, role: Role, *parts: str | ImagePart | TextPart) -> "Message":
        return cls(role=role, content=[TextPart(text=p) if isinstance(p, str) else p for p in parts])

    @classmethod
    def system(cls, *parts: str | ImagePart) -> "Message":
        return cls.of("system", *parts)

    @classmethod
    def user(cls, *parts: str | ImagePart) -> "Message":
        return cls.of("user", *parts)

    @classmethod
    def assistant(cls, *parts: str | ImagePart) -> "Message":
        return cls.of("assistant", *parts)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def images(self) -> list[str]:
        return [p.image for p in self.content if isinstance(p, ImagePart)]


class GenParams(BaseModel):
    """Sampling parameters; ``seed`` is filled per request by the scheduler when left None."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    max_tokens: int = Field(256, ge=1, le=32768)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stop: tuple[str, ...] = ()


class Request(BaseModel):
    """What an episode asks of a model role.

    ``generate``: chat → text. ``choose``: chat → probability of each option (from log-probs where the
    backend has them; else a constrained prompt whose answer is parsed, marked ``method="parsed"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["generate", "choose"] = "generate"
    messages: tuple[Message, ...]
    gen: GenParams = GenParams()
    options: tuple[str, ...] = ()
    role: str = "default"

    def cache_key(self, model_fingerprint: str) -> str:
        """Content hash over the model fingerprint and everything that can change the answer."""
        payload = json.dumps(
            {"model": model_fingerprint, "req": self.model_dump(mode="json", exclude={"role"})},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def with_seed(self, seed: int) -> "Request":
        if self.gen.seed is not None:
            return self
        return self.model_copy(update={"gen": self.gen.model_copy(update={"seed": seed})})


class Response(BaseModel):
    """A runner's answer to one request. ``error`` set means infrastructure failure, not an answer."""

    text: str | None = None
    probs: dict[str, float] | None = None
    method: Literal["generate", "logprobs", "parsed"] | None = None
    option_mass: float | None = Field(None, description="probability mass the options held before renormalising")
    error: str | None = None
    cached: bool = False
    usage: dict[str, int] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, message: str) -> "Response":
        return cls(error=message)


def all_answered(out: list[Response | None]) -> list[Response]:
    """A list filled slot by slot, checked complete (a hole is a bug in the filler, never the model's)."""
    missing = [i for i, r in enumerate(out) if r is None]
    if missing:
        raise RuntimeError(f"no response was filled in for request(s) {missing[:5]}")
    return [r for r in out if r is not None]


class TurnRef(BaseModel):
    """In a logged message: the text of an earlier turn's response (so a reply said once is stored once)."""

    model_config = ConfigDict(frozen=True)
    type: Literal["turn"] = "turn"
    turn: int = Field(ge=0, description="index into Record.turns whose response is this text")


LoggedPart = Annotated[Union[TextPart, ImagePart, TurnRef], Field(discriminator="type")]


class LoggedMessage(BaseModel):
    """A message as samples.jsonl keeps it: text, images by hash, or references to earlier responses."""

    model_config = ConfigDict(frozen=True)
    role: Role
    content: list[LoggedPart]


class Turn(BaseModel):
    """One request/response exchange inside an episode, as logged."""

    step: int
    role: str
    kind: str
    prompt: str = Field(description="text of the last user message (images shown as [image:hash8])")
    images: list[str] = Field(default_factory=list)
    messages: list[int] | None = Field(
        None, description="the request's full conversation as indices into Record.messages (None: older log)")
    response: str | None = None
    probs: dict[str, float] | None = None
    method: str | None = None
    cached: bool = False


class Record(BaseModel):
    """One finished episode: everything needed to recompute the task's metrics without a model."""

    task: str
    episode_id: str
    index: int
    sample: dict[str, Any] = Field(default_factory=dict, description="the sample's metadata (no pixels)")
    repeat: int = 0
    seed: int = 0
    turns: list[Turn] = Field(default_factory=list)
    messages: list[LoggedMessage] = Field(
        default_factory=list, description="every distinct message the episode's requests sent, each once")
    outputs: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    spec_hash: str = ""

    def conversation(self, turn: int) -> list[Message] | None:
        """The complete messages turn ``turn`` sent (references resolved); None for an older log."""
        refs = self.turns[turn].messages
        if refs is None:
            return None
        out = []
        for i in refs:
            m = self.messages[i]
            parts = [TextPart(text=self.turns[p.turn].response or "") if isinstance(p, TurnRef) else p
                     for p in m.content]
            out.append(Message(role=m.role, content=parts))
        return out
