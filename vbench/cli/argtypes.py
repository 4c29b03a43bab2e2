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
