"""The ten Schwartz basic values (exact names shared with the value_spectrum corpus) and name lookup."""
from __future__ import annotations

import re

VALUES: tuple[str, ...] = ("Self-direction", "Universalism", "Benevolence", "Stimulation", "Power",
                           "Achievement", "Hedonism", "Conformity", "Tradition", "Security")

_KEYS = {re.sub(r"[^a-z]", "", v.lower()): v for v in VALUES}


def canonical_value(name: str) -> str | None:
    """'self_direction', 'Self-Direction', ' SELF DIRECTION ' → 'Self-direction'; None if not a value."""
    return _KEYS.get(re.sub(r"[^a-z]", "", str(name).lower()))


def value_index(name: str) -> int:
    canon = canonical_value(name)
    if canon is None:
        raise KeyError(name)
    return VALUES.index(canon)
