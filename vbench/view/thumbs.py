"""Images for the viewer: the run's own store, shrunk to JPEG thumbnails; None when an image is missing."""
from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path

from PIL import Image

from vbench.images import ImageError, ImageStore

THUMB, FULL = 256, 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@lru_cache(maxsize=2048)
def jpeg(store_root: str, digest: str, size: int) -> bytes | None:
    """The image as a JPEG no larger than ``size`` pixels a side, or None (unknown, missing or corrupt)."""
    if not _DIGEST.match(digest):
        return None
    try:
        data = ImageStore(Path(store_root)).get_bytes(digest)
        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=85)
            return buf.getvalue()
    except (ImageError, OSError, ValueError, SyntaxError):
        return None
