"""How an episode's exchanges are logged: its distinct messages kept once, each turn referring to them.

Shared by the episode engine (which builds a Record's ``turns`` and ``messages`` as answers arrive) and
kept independent of how requests are scheduled, so a record is the same bytes whatever the arrival order.
"""
from __future__ import annotations

from typing import Iterable

from vbench.types import ImagePart, LoggedMessage, Message, Request, Response, TextPart, Turn, TurnRef


class MessageTable:
    """An episode's distinct messages, each kept once; turns refer to them by index (keeps the log small).

    A text part equal to an earlier turn's response (a model's own reply in its history, or the words
    it said arriving as the other player's user turn) is logged as a reference to that turn.
    """

    def __init__(self) -> None:
        self.messages: list[LoggedMessage] = []
        self._by_id: dict[int, int] = {}  # same object again (histories reuse their messages): no re-hash
        self._by_key: dict[str, int] = {}
        self._alive: list[Message] = []  # holds every object seen, so no id in _by_id is ever reused
        self._said: dict[str, int] = {}  # response text -> first turn that said it

    def said(self, turn: int, text: str | None) -> None:
        if text:
            self._said.setdefault(text, turn)

    def refs(self, messages: Iterable[Message]) -> list[int]:
        out = []
        for m in messages:
            idx = self._by_id.get(id(m))
            if idx is None:
                key = m.model_dump_json()
                idx = self._by_key.get(key)
                if idx is None:
                    idx = self._by_key[key] = len(self.messages)
                    parts = [TurnRef(turn=self._said[p.text]) if isinstance(p, TextPart) and p.text in self._said
                             else p for p in m.content]
                    self.messages.append(LoggedMessage(role=m.role, content=parts))
                self._by_id[id(m)] = idx
                self._alive.append(m)
            out.append(idx)
        return out


def log_turn(step: int, req: Request, resp: Response, table: MessageTable) -> Turn:
    last_user = next((m for m in reversed(req.messages) if m.role == "user"), req.messages[-1])
    prompt = "".join(p.text if not isinstance(p, ImagePart) else f"[image:{p.image[:8]}]" for p in last_user.content)
    return Turn(step=step, role=req.role, kind=req.kind, prompt=prompt, images=last_user.images,
                messages=table.refs(req.messages), response=resp.text, probs=resp.probs, method=resp.method,
                cached=resp.cached)
