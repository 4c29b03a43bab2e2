"""Rows and boards: a board holds only runs that are strictly comparable.

The grouping key is (task, task version, prompt-set hash, dataset fingerprint, choice scoring, scope):
two runs share a board only when they asked the same prompts about the same data and scored choices
the same way. ``scope`` is ``published`` (a dataset vbench publishes, fingerprint checked: ranked),
``other`` (any other dataset: shown, never ranked) or ``paper`` (a paper's numbers alone). Within a
ranked board only recomputed runs get a rank; paper rows and runs whose records were withheld are
listed beside them, unranked. Columns, labels and charts come from the task's display declaration.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vbench.leaderboard import views
from vbench.leaderboard.schema import display_name, safe_slug
from vbench.tasks.display import MetricDisplay, PaperSource, TaskDisplay

TIERS = ("paper", "verified", "self-reported")
SCOPES = ("published", "other", "paper")


class BoardKey(NamedTuple):
    task: str
    version: str
    prompt_set_hash: str
    dataset_fingerprint: str
    choice_scoring: str = ""
    scope: str = "published"

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
    synthetic: list[str] = field(default_factory=list)
    unranked: str | None = None  # why this row is listed without a rank (None: ranked when its board is)
    rank: int | None = None
    _cells: dict[str, views.Cell] = field(default_factory=dict, repr=False, compare=False)

    def cell(self, col: MetricDisplay) -> views.Cell:
        if col.key not in self._cells:
            self._cells[col.key] = views.resolve(self.metrics, col.candidates())
        return self._cells[col.key]

    @classmethod
    def from_results(cls, res: dict[str, Any], source: str, sha256: str, recomputed: bool, notes: list[str],
                     scope: str, synthetic: list[str]) -> "Row":
        t, m, c, run = res["task"], res["model"], res["counts"], res["run"]
        roles = res.get("roles") or {}
        name = m["model_id"] + "".join(f" + {r}={s['model_id']}" for r, s in sorted(roles.items()))
        key = BoardKey(t["name"], t["version"], t["prompt_set_hash"], t["dataset_fingerprint"],
                       m.get("choice_scoring") or "", scope)
        return cls(key=key, model=display_name(name), model_id=display_name(m["model_id"]),
                   revision=display_name(m["revision"]) if m.get("revision") else None,
                   tier="self-reported", metrics=res["metrics"], source=source, sha256=sha256,
                   recomputed=recomputed, n_episodes=c["n_episodes"], error_rate=c["error_rate"],
                   parse_failure_rate=c.get("parse_failure_rate"), seed=run["seed"],
                   date=display_name(run["finished_at"], 32), dataset=display_name(t.get("dataset") or "", 80),
                   notes=[display_name(n, 200) for n in notes], synthetic=[display_name(s, 200) for s in synthetic],
                   unranked=None if recomputed else "records withheld: metrics not recomputed")


@dataclass
class Board:
    key: BoardKey
    rows: list[Row] = field(default_factory=list)
    title: str = ""
    display: TaskDisplay | None = None
    columns: list[MetricDisplay] = field(default_factory=list)
    headline: MetricDisplay | None = None
    papers: list[PaperSource] = field(default_factory=list)

    @property
    def board_id(self) -> str:
        return self.key.board_id

    @property
    def ranked(self) -> bool:
        return self.key.scope == "published"

    @property
    def runs(self) -> list[Row]:
        return [r for r in self.rows if r.tier != "paper"]

    @property
    def datasets(self) -> list[str]:
        return sorted({r.dataset for r in self.runs if r.dataset})[:3]

    def finalize(self) -> None:
        """Columns (declared, empty ones hidden), rows sorted by the headline, ranks for ranked runs."""
        self.display = self.display or views.display_for(self.key.task)
        scope = {"published": "", "other": " · other dataset (unranked)", "paper": " · published numbers"}[self.key.scope]
        name = self.display.title if self.display else self.key.task
        self.title = self.title or f"{name}{scope}"
        if self.display:
            declared = self.display.all_columns()
        else:
            declared = views.generic_columns(self.key.task, self.rows[0].metrics) if self.rows else []
        self.columns = [c for c in declared if any(r.cell(c).value is not None for r in self.rows)]
        self.headline = next((c for c in self.columns if self.display is None
                              or c.key in {h.key for h in self.display.headline}), None)

        def sort_key(row: Row):
            v = row.cell(self.headline).value if self.headline else None
            sign = 1.0 if self.headline and self.headline.direction == "lower" else -1.0
            return (row.unranked is not None or row.tier == "paper", v is None, sign * (v or 0.0), row.model)

        self.rows.sort(key=sort_key)
        rank = 0
        for row in self.rows:
            if self.ranked and row.unranked is None and row.tier != "paper":
                rank += 1
                row.rank = rank


def paper_rows(task: str, display: TaskDisplay, key: BoardKey) -> list[Row]:
    """The papers' published numbers for a task, as unranked ``paper`` rows on ``key``'s board."""
    rows = []
    for src in display.papers:
        citation = " ".join(src.citation.split())
        for model, metrics in src.metrics().items():
            nested: dict[str, Any] = {}
            for path, value in metrics.items():
                _put(nested, path, {"value": value})
            rows.append(Row(key=key, model=model, model_id=model, tier="paper", metrics=nested, source=src.key,
                            citation=citation, unranked=f"published in {src.title}"))
    return rows


def _put(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def attach_papers(boards: list[Board]) -> list[Board]:
    """Paper rows beside the runs of every ranked board of their task; a board of their own otherwise."""
    from vbench.registry import TASKS

    out = list(boards)
    for task in [e.name for e in TASKS.entries()]:
        display = views.display_for(task)
        if display is None or not display.papers:
            continue
        targets = [b for b in boards if b.key.task == task and b.ranked]
        if not targets:
            src = display.papers[0]
            key = BoardKey(task, "paper", src.key, "published", "", "paper")
            targets = [Board(key=key)]
            out.append(targets[0])
        for board in targets:
            board.papers = display.papers
            board.rows += paper_rows(task, display, board.key)
    return out
