"""Schwartz's ten values as versioned data: definitions and the keyword lists that index the corpus.

The packaged ``schwartz.yaml`` is the default; a user file with the same schema can replace it (its
version then identifies the keyword set in meta.json, the split and every task hash).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vbench.errors import UsageError


class SchwartzValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    code: str = Field(min_length=1, description="short column label (SD, UNI, ...)")
    definition: str = Field(min_length=1)
    keywords: tuple[str, ...] = Field(min_length=1)


class SchwartzSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    source: str = ""
    values: tuple[SchwartzValue, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "SchwartzSet":
        names = [v.name for v in self.values]
        if len(set(names)) != len(names):
            raise ValueError("value names must be unique")
        seen: dict[str, str] = {}
        for v in self.values:
            for kw in v.keywords:
                key = kw.strip().lower()
                if not key:
                    raise ValueError(f"{v.name}: empty keyword")
                if key in seen:  # a shared keyword would make the item → value assignment ambiguous
                    raise ValueError(f"keyword {kw!r} appears under both {seen[key]} and {v.name}")
                seen[key] = v.name
        return self

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.values]

    def get(self, name: str) -> SchwartzValue:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(name)

    def keyword_rows(self) -> list[tuple[str, str]]:
        """(value, keyword) for every keyword, in file order (the order of keywords.npz)."""
        return [(v.name, kw) for v in self.values for kw in v.keywords]


def parse_schwartz(text: str, where: str) -> SchwartzSet:
    try:
        data = yaml.safe_load(text)
        return SchwartzSet.model_validate(data)
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise UsageError(f"{where}: {loc}: {err['msg']}") from None


@lru_cache(maxsize=None)
def _packaged() -> SchwartzSet:
    text = resources.files("vbench.data").joinpath("schwartz.yaml").read_text(encoding="utf-8")
    return parse_schwartz(text, "vbench/data/schwartz.yaml")


def load_schwartz(path: str | Path | None = None) -> SchwartzSet:
    """The packaged value set, or a user YAML file with the same schema."""
    if path is None:
        return _packaged()
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"values file not found: {p}")
    return parse_schwartz(p.read_text(encoding="utf-8"), str(p))
