"""The column types the statistics take: Python sequences (``None`` = missing) or numpy arrays.

Metrics code passes per-row lists, and pre-coded integer arrays for keys it aggregates many subsets of
(see ``stats._key_codes``), so every entry point accepts both.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence, Union

import numpy as np

Values = Union[Sequence[Any], np.ndarray]
"""Numbers (floats, ints, bools), ``None`` for missing; or a numeric array."""

Keys = Union[Sequence[Hashable], np.ndarray]
"""One cluster id per value (``None`` = missing); or an int array of codes (−1 = missing)."""

Pairs = Union[Sequence[Any], np.ndarray]
"""One (member, member) pair of a shared pool per value (``None`` = missing); or an (n, 2) int array of codes."""
