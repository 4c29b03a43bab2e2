"""How a task is shown (leaderboard, reports): one ``display.yaml`` beside each task's code.

The file in a task's package maps task names to a :class:`TaskDisplay`: the headline metric(s), the
board's columns (grouped, labelled, with units, direction and number format), the charts, and the
published numbers of the task's paper (shown beside runs, unranked). Metric keys are dotted paths
into the task's metrics block; an OLS coefficient is ``block.coef.name``. A column or chart key may
hold ``{value}`` / ``{code}`` to repeat it over the Schwartz values.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

FILENAME = "display.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Alternative(_Strict):
    key: str
    label: str


class MetricDisplay(_Strict):
    key: str = Field(description="dotted path into the metrics block")
    label: str
    group: str = ""
    unit: str = ""
    direction: Literal["higher", "lower", "none"] = "higher"
    format: str = ".3f"
    note: str = ""
    fallback: list[Alternative] = Field(default_factory=list, description="used, in order, when key is absent")

    def candidates(self) -> list[Alternative]:
        return [Alternative(key=self.key, label=self.label), *self.fallback]


class ChartDisplay(_Strict):
    kind: Literal["radar", "value_bars", "coefficients", "interval_bars", "curves"]
    title: str
    keys: list[Alternative] = Field(default_factory=list, description="metrics plotted (value/coefficient charts)")
    series: dict[str, list[Alternative]] = Field(default_factory=dict, description="curves: name -> points")
    domain: tuple[float, float] | None = None
    note: str = ""


class PerValueRows(_Strict):
    key: str = Field(description="metric key template holding {value}")
    overall: str | None = Field(None, description="key given the mean of the values")
    scale: float = 1.0
    rows: dict[str, list[float]]


class PaperSource(_Strict):
    key: str
    title: str
    citation: str
    note: str = ""
    rows: dict[str, dict[str, float]] = Field(default_factory=dict, description="model -> {metric key: value}")
    per_value: PerValueRows | None = None

    def metrics(self) -> dict[str, dict[str, float]]:
        """model -> {metric key: value} (per-value tables expanded over the Schwartz values, in order)."""
        out = {model: dict(values) for model, values in self.rows.items()}
        if self.per_value is not None:
            names = schwartz_names()
            for model, numbers in self.per_value.rows.items():
                vals = [x / self.per_value.scale for x in numbers]
                row = out.setdefault(model, {})
                row.update({self.per_value.key.format(value=v): x for v, x in zip(names, vals)})
                if self.per_value.overall:
                    row[self.per_value.overall] = round(sum(vals) / len(vals), 6)
        return out


class TaskDisplay(_Strict):
    title: str
    short: str = Field(description="column title in the model x task overview")
    paper: str = ""
    description: str = ""
    headline: list[MetricDisplay] = Field(min_length=1, max_length=3)
    columns: list[MetricDisplay] = Field(default_factory=list)
    charts: list[ChartDisplay] = Field(default_factory=list)
    papers: list[PaperSource] = Field(default_factory=list)

    def all_columns(self) -> list[MetricDisplay]:
        """Headline first, then the other columns, each template expanded over the Schwartz values."""
        out: list[MetricDisplay] = []
        for col in [*self.headline, *self.columns]:
            out.extend(expand(col))
        first: dict[str, MetricDisplay] = {}
        for c in out:
            first.setdefault(c.key, c)
        return list(first.values())


def schwartz_names() -> list[str]:
    from vbench.data.schwartz import load_schwartz

    return load_schwartz(None).names


def schwartz_codes() -> dict[str, str]:
    from vbench.data.schwartz import load_schwartz

    return {v.name: v.code for v in load_schwartz(None).values}


def expand(col: MetricDisplay) -> list[MetricDisplay]:
    if "{value}" not in col.key:
        return [col]
    codes = schwartz_codes()
    return [col.model_copy(update={
        "key": col.key.format(value=name), "label": col.label.format(value=name, code=code),
        "fallback": [Alternative(key=a.key.format(value=name), label=a.label.format(value=name, code=code))
                     for a in col.fallback]}) for name, code in codes.items()]


@lru_cache(maxsize=None)
def _package_file(package: str) -> dict[str, Any]:
    try:
        text = resources.files(package).joinpath(FILENAME).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, TypeError):
        return {}
    return yaml.safe_load(text) or {}


def load_display(task: str) -> TaskDisplay | None:
    """The task's display declaration, or None (unknown task, or a plugin task that declares none)."""
    from vbench.registry import TASKS

    if task not in TASKS:
        return None
    try:
        cls = TASKS.get(TASKS.resolve(task))
    except Exception:  # an unimportable plugin has no display
        return None
    package = cls.__module__.rpartition(".")[0]
    raw = _package_file(package).get(cls.name)
    return TaskDisplay.model_validate(raw) if raw is not None else None
