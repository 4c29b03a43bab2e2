"""What raters see: the dataset's images under stable item ids, in a per-rater random order, plus
attention checks (known images that ask for a given answer) inserted at a fixed rate."""
from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from vbench.errors import UsageError

CHECK_PREFIX = "check-"


def item_key(row: dict[str, Any], index: int, id_column: str | None) -> str:
    """An item's id: the id column, else the image file name, else the row number (same rule as export)."""
    if id_column and row.get(id_column) is not None:
        return str(row[id_column])
    img = row.get("image") or {}
    if row.get("file_name"):
        return Path(str(row["file_name"])).name
    if isinstance(img, dict) and img.get("path"):
        return Path(str(img["path"])).name
    return f"row{index:06d}"


def check_image(expected: int, size: int = 384) -> bytes:
    """A known image: plain text asking for rating ``expected`` (instructed-response attention check)."""
    img = Image.new("RGB", (size, size), (236, 236, 236))
    d = ImageDraw.Draw(img)
    font, small = ImageFont.load_default(size=size // 9), ImageFont.load_default(size=size // 16)
    d.text((size // 2, size // 3), "Attention check", fill=(40, 40, 40), font=small, anchor="mm")
    d.text((size // 2, size // 2), f"Please choose {expected}", fill=(160, 20, 20), font=font, anchor="mm")
    d.text((size // 2, size * 2 // 3), "for this picture", fill=(40, 40, 40), font=small, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Item:
    key: str
    is_check: bool = False
    expected: int | None = None


class ItemSet:
    """The dataset's items (read lazily from the ``datasets`` table) and the attention checks."""

    def __init__(self, spec: str, id_column: str | None = None, check_every: int = 10):
        from vbench.data.loading import load_rows

        if check_every < 0:
            raise UsageError("--check-every must be >= 0 (0 = no attention checks)")
        self.spec = spec
        self.ds = load_rows(spec)
        if "image" not in self.ds.column_names:
            raise UsageError(f"dataset {spec!r} has no image column")
        if id_column is None and "id" in self.ds.column_names:
            id_column = "id"
        self.id_column = id_column
        cols = [c for c in (id_column, "file_name") if c and c in self.ds.column_names]
        light = self.ds.select_columns(cols + ["image"]) if cols else self.ds.select_columns(["image"])
        self.keys = [item_key(row, i, id_column) for i, row in enumerate(light)]
        dupes = len(self.keys) - len(set(self.keys))
        if dupes:
            raise UsageError(f"dataset {spec!r}: {dupes} rows share an item id; pass --id-column COLUMN with unique ids")
        if any(k.startswith(CHECK_PREFIX) for k in self.keys):
            raise UsageError(f"dataset {spec!r}: item ids must not start with {CHECK_PREFIX!r}")
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.check_every = check_every
        self.checks = {f"{CHECK_PREFIX}{n}": n for n in range(1, 8)}
        self._check_png = {k: check_image(n) for k, n in self.checks.items()}
        self._orders: dict[tuple[str, str], list[str]] = {}
        self.fingerprint = hashlib.sha256("\n".join(sorted(self.keys)).encode()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: str) -> Item | None:
        if key in self.checks:
            return Item(key, True, self.checks[key])
        return Item(key) if key in self.index else None

    def order(self, rater: str, salt: str) -> list[str]:
        """The rater's own random order (stable across page loads and restarts)."""
        keys = self._orders.get((rater, salt))
        if keys is None:
            keys = list(self.keys)
            random.Random(f"{salt}/{rater}").shuffle(keys)
            self._orders[(rater, salt)] = keys
        return keys

    def next_for(self, rater: str, salt: str, rated: set[str], checks_done: int) -> Item | None:
        """Next image for a rater: a check after every ``check_every`` real items, else the next unrated one."""
        left = [k for k in self.order(rater, salt) if k not in rated]
        if not left:
            return None
        if self.check_every and len(rated) >= (checks_done + 1) * self.check_every:
            values = list(self.checks)
            random.Random(f"{salt}/{rater}/checks").shuffle(values)
            return self.get(values[checks_done % len(values)])
        return Item(left[0])

    def image(self, key: str) -> tuple[bytes, str]:
        """Encoded bytes and MIME type of an item's image."""
        if key in self._check_png:
            return self._check_png[key], "image/png"
        value = self.ds[self.index[key]]["image"]
        data = value.get("bytes") or Path(value["path"]).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "PNG").lower()
        return data, {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(fmt, f"image/{fmt}")
