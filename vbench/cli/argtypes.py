"""argparse value types shared by every command, so bad values read the same everywhere."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def batch_size(text: str) -> int | str:
    """A positive integer or ``auto``."""
    return "auto" if text == "auto" else positive_int(text)


def error_rate(text: str) -> float:
    """A share of episodes from 0 to 1 (``--fail-on-error``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text!r}")
    return value
