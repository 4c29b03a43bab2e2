"""One small generic registry: name → lazy factory, aliases, "did you mean" on unknown names.

Entries are registered with an import path string, so listing never imports heavy modules; third-party
packages add entries through the Python entry-point group named by ``entry_point_group``.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; the message carries the suggestions."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


@dataclass
class Entry:
    name: str
    target: str | Callable[..., Any]
    description: str = ""
    aliases: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Any:
        if callable(self.target):
            return self.target
        module, _, attr = self.target.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        return obj


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}
        self._plugins_loaded = False

    def register(self, name: str, target: str | Callable[..., Any], description: str = "",
                 aliases: tuple[str, ...] = (), **extra: Any) -> None:
        if name in self._entries or name in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, target, description, tuple(aliases), extra)
        for alias in aliases:
            self._aliases[alias] = name

    def decorator(self, name: str, description: str = "", aliases: tuple[str, ...] = ()):
        def wrap(obj):
            self.register(name, obj, description or (obj.__doc__ or "").strip().splitlines()[0], aliases)
            return obj
        return wrap

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self.entry_point_group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self.register(ep.name, ep.value, description=f"(plugin from {ep.dist.name if ep.dist else '?'})")

    def resolve(self, name: str) -> str:
        self._load_plugins()
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._entries))}."
        )

    def __contains__(self, name: str) -> bool:
        try:
            self.resolve(name)
            return True
        except UnknownNameError:
            return False

    def entry(self, name: str) -> Entry:
        return self._entries[self.resolve(name)]

    def get(self, name: str) -> T:
        return self.entry(name).load()

    def entries(self) -> list[Entry]:
        self._load_plugins()
        return [self._entries[k] for k in sorted(self._entries)]
