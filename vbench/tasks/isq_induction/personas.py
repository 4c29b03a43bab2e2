"""Personas: first-person trait sentences (PersonaChat style) tagged with target Schwartz values.

vbench ships its own set (``personas.jsonl``: 60 personas, 5 sentences each, 1–2 target values,
every value tagged 9 times); the study's personas were not released. Users pass their own with
``--task_args personas=PATH_OR_HUB_ID`` (JSONL/JSON/YAML file, or any dataset ``vbench`` can load,
e.g. a PersonaChat copy with a ``personality`` column plus a ``values`` column).
"""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from vbench.errors import UsageError
from vbench.tasks.isq_induction.schwartz import VALUES, canonical_value

TRAIT_COLUMNS = ("traits", "personality", "persona")
VALUE_COLUMNS = ("values", "target_values", "value")


class Persona(BaseModel):
    id: str
    traits: list[str] = Field(min_length=1)
    values: list[str] = Field(min_length=1, description="target Schwartz values (canonical names)")

    @property
    def text(self) -> str:
        return " ".join(t.strip() for t in self.traits)


def _split(value: Any, pattern: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in re.split(pattern, value) if p.strip()]
    return [str(v).strip() for v in value if v is not None and str(v).strip()]


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[n] for n in names if n in row and row[n] not in (None, "", [])), None)


def parse_persona(row: dict[str, Any], where: str, default_id: str) -> Persona:
    """One row → Persona; UsageError naming the row for missing traits, missing or unknown values."""
    traits = _split(_first(row, TRAIT_COLUMNS), r"\n|\|")
    if not traits:
        raise UsageError(f"personas {where}: no trait sentences (give a column {' / '.join(TRAIT_COLUMNS)})")
    raw_values = _split(_first(row, VALUE_COLUMNS), r"[|,;]")
    if not raw_values:
        raise UsageError(f"personas {where}: no target values (every persona needs 1-2 Schwartz values in a "
                         f"column {' / '.join(VALUE_COLUMNS)}; the alignment metric depends on them)")
    values = []
    for v in raw_values:
        canon = canonical_value(v)
        if canon is None:
            raise UsageError(f"personas {where}: {v!r} is not a Schwartz value (known: {', '.join(VALUES)})")
        if canon not in values:
            values.append(canon)
    return Persona(id=str(row.get("id") or default_id), traits=traits, values=values)


def _file_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"personas file {path} cannot be parsed: {str(exc).splitlines()[0]}") from None
    if isinstance(data, dict) and "personas" in data:
        data = data["personas"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UsageError(f"personas file {path} must hold a list of objects (or {{personas: [...]}})")
    return data


def load_personas(spec: str | None = None) -> list[Persona]:
    """The built-in set (``spec`` None) or a user file / dataset, validated in full."""
    if spec is None:
        text = resources.files("vbench.tasks.isq_induction").joinpath("personas.jsonl").read_text(encoding="utf-8")
        rows, label = [json.loads(line) for line in text.splitlines() if line.strip()], "built-in"
    else:
        path = Path(spec).expanduser()
        if path.is_file() and path.suffix in (".jsonl", ".json", ".yaml", ".yml"):
            rows, label = _file_rows(path), str(path)
        else:
            from vbench.data.loading import load_rows

            rows, label = list(load_rows(spec)), spec
    personas = [parse_persona(r, f"{label} row {i + 1}", f"persona-{i + 1:03d}") for i, r in enumerate(rows)]
    if not personas:
        raise UsageError(f"personas {label}: no personas")
    ids = [p.id for p in personas]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise UsageError(f"personas {label}: id {dup!r} appears twice")
    return personas
