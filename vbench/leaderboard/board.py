"""Rows and boards: a board holds only runs that are strictly comparable.

The grouping key is (task name, task version, prompt-set hash, dataset fingerprint): two runs share a
board only when they asked the same prompts about the same data. Paper rows get boards of their own.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NamedTuple

import yaml

from vbench.leaderboard import views
from vbench.leaderboard.schema import display_name, safe_slug

TIERS = ("paper", "verified", "self-reported")


class BoardKey(NamedTuple):
    task: str
    version: str
    prompt_set_hash: str
    dataset_fingerprint: str

    @property
    def board_id(self) -> str:
        digest = hashlib.sha256("\x1f".join(self).encode()).hexdigest()[:10]
        return f"{safe_slug(self.task, 48)}-v{safe_slug(self.version, 24)}-{digest}"


@dataclass
class Row:
    key: BoardKey
    model: str
    tier: str
    metrics: dict[str, Any]
    source: str
    model_id: str = ""
    revision: str | None = None
    sha256: str | None = None
    recomputed: bool = False
    n_episodes: int | None = None
    error_rate: float | None = None
    parse_failure_rate: float | None = None
    seed: int | None = None
    date: str | None = None
    dataset: str | None = None
    notes: list[str] = field(default_factory=list)
    citation: str | None = None
    verification: dict[str, Any] | None = None
    _leaves: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def leaves(self) -> dict[str, Any]:
        """Every displayable metric of the row by column name (computed once)."""
        if self._leaves is None:
            self._leaves = views.columns(self.metrics, summary_rows(self.key.task, self.metrics))
        return self._leaves

    @classmethod
    def from_results(cls, res: dict[str, Any], source: str, sha256: str, recomputed: bool,
                     notes: list[str]) -> "Row":
        t, m, c, run = res["task"], res["model"], res["counts"], res["run"]
        roles = res.get("roles") or {}
        name = m["model_id"] + "".join(f" + {r}={s['model_id']}" for r, s in sorted(roles.items()))
        return cls(key=BoardKey(t["name"], t["version"], t["prompt_set_hash"], t["dataset_fingerprint"]),
                   model=display_name(name), model_id=display_name(m["model_id"]),
                   revision=display_name(m["revision"]) if m.get("revision") else None,
                   tier="self-reported", metrics=res["metrics"], source=source, sha256=sha256,
                   recomputed=recomputed, n_episodes=c["n_episodes"], error_rate=c["error_rate"],
                   parse_failure_rate=c.get("parse_failure_rate"), seed=run["seed"],
                   date=display_name(run["finished_at"], 32), dataset=display_name(t.get("dataset") or "", 80),
                   notes=[display_name(n, 200) for n in notes])


@dataclass
class Board:
    key: BoardKey
    rows: list[Row] = field(default_factory=list)
    title: str = ""
    citation: str | None = None
    note: str | None = None
    columns: list[str] = field(default_factory=list)
    headline: str | None = None

    @property
    def board_id(self) -> str:
        return self.key.board_id

    @property
    def is_paper(self) -> bool:
        return any(r.tier == "paper" for r in self.rows)

    def finalize(self, max_columns: int = 40) -> None:
        """Choose columns (each row's summary rows lead) and sort rows by the headline, best first."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for col in row.leaves:
                seen.setdefault(col, None)
        self.columns = list(seen)[:max_columns]
        self.headline = views.headline(self.key.task, self.columns)
        if self.headline:
            def sort_key(row: Row):
                v = views.scalar(row.leaves.get(self.headline))
                return (v is None, -(v or 0.0), row.model)
            self.rows.sort(key=sort_key)
        else:
            self.rows.sort(key=lambda r: r.model)


def summary_rows(task: str, metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """The task's own headline metrics (Task.summary_rows) when the task is registered; [] otherwise."""
    from vbench.registry import TASKS

    if task not in TASKS:
        return []
    try:
        return [(str(k), v) for k, v in TASKS.get(TASKS.resolve(task)).summary_rows(metrics)]
    except Exception:  # a task's display hook must not break the build
        return []


def load_paper_sources() -> list[dict[str, Any]]:
    text = resources.files("vbench.leaderboard").joinpath("paper_rows.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["sources"]


def paper_boards() -> list[Board]:
    """The papers' published numbers as boards of `paper` rows (each carrying its citation)."""
    boards = []
    for src in load_paper_sources():
        key = BoardKey(src["task"], "paper", src["key"], "published")
        board = Board(key=key, title=src["title"], citation=" ".join(src["citation"].split()),
                      note=" ".join(src.get("note", "").split()) or None)
        for model, numbers in (src.get("rows") or {}).items():
            scale = float(src.get("scale", 1))
            prefs = {views.VALUE_LABELS[v]: {"value": x / scale} for v, x in zip(src["values"], numbers)}
            vals = [p["value"] for p in prefs.values()]
            mean = sum(vals) / len(vals)
            std = (sum((v - mean) ** 2 for v in vals) / len(vals)) ** 0.5
            metrics = {"mean_preference": {"value": round(mean, 6)}, "std_across_values": {"value": round(std, 6)},
                       "preference": prefs}
            board.rows.append(_paper_row(key, model, metrics, src))
        for model, metrics in (src.get("metrics") or {}).items():
            board.rows.append(_paper_row(key, model, {k: {"value": v} for k, v in metrics.items()}, src))
        boards.append(board)
    return boards


def _paper_row(key: BoardKey, model: str, metrics: dict[str, Any], src: dict[str, Any]) -> Row:
    return Row(key=key, model=model, model_id=model, tier="paper", metrics=metrics, source=src["key"],
               citation=" ".join(src["citation"].split()))
