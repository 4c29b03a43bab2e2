"""Checks of the dataset columns vbench knows, at load time: one line naming file, row and column.

A wrong-typed or out-of-range value (``human_rating: "very angry"``, NaN, 99 on a 1–7 scale, a factor
that is not 0/1) would otherwise surface as a crash mid-run or a silently wrong metric. A missing
value (null) is allowed: an unrated image is not an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vbench.errors import UsageError

FACTOR_COLUMNS = ("weapon", "smile", "teeth", "covered_face", "black_clothes", "white_clothes")


@dataclass(frozen=True)
class NumberRule:
    low: float
    high: float
    integer: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "whole number" if self.integer else "number"
            return f"{value!r} is not a {kind} from {self.low:g} to {self.high:g}"
        if math.isnan(value) or math.isinf(value):
            return f"{value!r} is not a number from {self.low:g} to {self.high:g}"
        if self.integer and value != int(value):
            return f"{value!r} is not a whole number"
        if not self.low <= value <= self.high:
            return f"{value!r} is outside {self.low:g}–{self.high:g}"
        return None


@dataclass(frozen=True)
class FlagRule:
    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value in (0, 1)):
            return None
        return f"{value!r} is not 0/1 (or true/false)"


KNOWN_COLUMNS: dict[str, NumberRule | FlagRule] = {
    "human_rating": NumberRule(1, 7),
    "human_rating_n": NumberRule(0, math.inf, integer=True),
    **{name: FlagRule() for name in FACTOR_COLUMNS},
}


def check_known_columns(ds, where: str) -> None:
    """UsageError at the first bad value of a known column (rows counted from 1)."""
    for column, rule in KNOWN_COLUMNS.items():
        if column not in ds.column_names:
            continue
        for row, value in enumerate(ds[column], 1):
            if value is None:
                continue
            problem = rule.problem(value)
            if problem:
                raise UsageError(f"{where} row {row}, column {column!r}: {problem}")
