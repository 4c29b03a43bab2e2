"""Content-addressed image store: requests and logs carry a sha256, only runners load pixels."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vbench.types import ImagePart


class ImageError(ValueError):
    """An image that cannot be decoded or found."""


_OBJECT_AT = re.compile(r" object at 0x[0-9a-fA-F]+")  # PIL names the BytesIO it read: a new address each run


def check_decodes(data: bytes) -> None:
    """Decode every pixel once (``verify()`` alone passes a truncated JPEG); refuse decompression bombs.

    PIL raises ``DecompressionBombError`` above 2× ``Image.MAX_IMAGE_PIXELS`` and only warns between
    1× and 2×; both are refused here, before the image reaches a model or an upload."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large to decode safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt image ({exc.__class__.__name__}: {_OBJECT_AT.sub(' object', str(exc))})") from None


def default_store_dir() -> Path:
    return Path(os.environ.get("VBENCH_CACHE", Path.home() / ".cache" / "vbench")) / "images"


class ImageStore:
    """Stores encoded image bytes under their sha256; decodes lazily with a small LRU."""

    def __init__(self, root: str | Path | None = None, lru_size: int = 256):
        self.root = Path(root) if root else default_store_dir()
        self._mem: dict[str, bytes] = {}
        self._lru: OrderedDict[str, Image.Image] = OrderedDict()
        self._lru_size = lru_size
        self._lock = threading.Lock()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.img"

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            if digest in self._mem:
                return digest
            self._mem[digest] = data
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest

    def put_image(self, image: Image.Image) -> str:
        """Encode a PIL image as PNG (lossless, deterministic) and store it."""
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return self.put_bytes(buf.getvalue())

    def put(self, source: "str | Path | bytes | Image.Image | dict") -> ImagePart:
        """Accept a path, raw bytes, a PIL image or a ``datasets`` image dict; verify it decodes."""
        if isinstance(source, Image.Image):
            return ImagePart(image=self.put_image(source))
        if isinstance(source, dict):
            if source.get("bytes"):
                data = source["bytes"]
            elif source.get("path"):
                return self.put(source["path"])
            else:
                raise ImageError("image value has neither bytes nor path")
        elif isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise ImageError(f"image file not found: {path}")
            data = path.read_bytes()
        else:
            data = bytes(source)
        check_decodes(data)
        return ImagePart(image=self.put_bytes(data))

    def get_bytes(self, digest: str) -> bytes:
        data = self._mem.get(digest)
        if data is not None:
            return data
        path = self._path(digest)
        if not path.exists():
            raise ImageError(f"image {digest[:12]} is not in the store at {self.root}")
        return path.read_bytes()

    def open(self, digest: str) -> Image.Image:
        """Decoded RGB image (cached)."""
        with self._lock:
            if digest in self._lru:
                self._lru.move_to_end(digest)
                return self._lru[digest]
        img = Image.open(io.BytesIO(self.get_bytes(digest))).convert("RGB")
        with self._lock:
            self._lru[digest] = img
            if len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)
        return img

    def mime(self, digest: str) -> str:
        fmt = (Image.open(io.BytesIO(self.get_bytes(digest))).format or "PNG").lower()
        return {"jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(fmt, f"image/{fmt}")

    def data_url(self, digest: str) -> str:
        """Base64 data URL for API backends (built at send time, never logged)."""
        return f"data:{self.mime(digest)};base64," + base64.b64encode(self.get_bytes(digest)).decode()


STORE_POINTER = "image_store.json"


def write_store_pointer(run_dir: Path, store: ImageStore) -> None:
    """Tell a run folder where its images live, so the folder plus that store can be viewed offline."""
    import json

    from vbench.results import atomic_write_text

    atomic_write_text(run_dir / STORE_POINTER, json.dumps({"images": str(store.root.resolve())}) + "\n")


def read_store_pointer(run_dir: Path) -> Path | None:
    """The image store a run wrote into its folder, or None (older runs)."""
    import json

    try:
        return Path(json.loads((run_dir / STORE_POINTER).read_text())["images"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_default: ImageStore | None = None


def default_store() -> ImageStore:
    global _default
    if _default is None:
        _default = ImageStore()
    return _default


def set_default_store(store: ImageStore) -> None:
    global _default
    _default = store
