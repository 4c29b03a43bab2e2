"""Versioned prompt sets: each task package ships prompts.yaml; its hash goes into results.json."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=None)
def load_prompts(package: str, filename: str = "prompts.yaml") -> dict[str, Any]:
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "version" not in data:
        raise ValueError(f"{package}/{filename} must be a mapping with a 'version' key")
    return data
