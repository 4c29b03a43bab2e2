"""The ten Schwartz values (the shared packaged value set, vbench/data/schwartz.yaml) and loose name lookup."""
from __future__ import annotations

import re

from vbench.data.schwartz import load_schwartz

VALUES: tuple[str, ...] = tuple(load_schwartz().names)

_KEYS = {re.sub(r"[^a-z]", "", v.lower()): v for v in VALUES}


def canonical_value(name: str) -> str | None:
    """'self_direction', 'Self-Direction', ' SELF DIRECTION ' → 'Self-direction'; None if not a value."""
    return _KEYS.get(re.sub(r"[^a-z]", "", str(name).lower()))
