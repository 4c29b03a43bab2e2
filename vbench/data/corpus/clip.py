"""CLIP image and text embeddings (transformers CLIPModel), L2-normalised float32.

The same model embeds the screenshots and the keywords, so their vectors share one space; its id is
recorded in meta.json and reused by build-split.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vbench.errors import MissingDependencyError, UsageError

DEFAULT_CLIP = "openai/clip-vit-base-patch32"


def _features(out):
    """transformers 5 returns a model output (projected vectors in pooler_output); 4.x a tensor."""
    return out if hasattr(out, "shape") else out.pooler_output


class ClipEmbedder:
    def __init__(self, model_id: str = DEFAULT_CLIP, device: str = "auto", revision: str | None = None):
        try:
            import torch
            from transformers import CLIPModel, CLIPProcessor
        except ImportError:
            raise MissingDependencyError("the CLIP embedder", "build") from None
        looks_local = model_id.startswith((".", "/", "~")) or model_id.count("/") != 1
        if looks_local and not Path(model_id).expanduser().is_dir():
            raise UsageError(f"CLIP model not found: {model_id!r} is neither a local folder nor a Hub id (org/name)")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.model = CLIPModel.from_pretrained(str(Path(model_id).expanduser()) if looks_local else model_id,
                                                   revision=revision or "main").eval().to(device)
            self.processor = CLIPProcessor.from_pretrained(
                str(Path(model_id).expanduser()) if looks_local else model_id, revision=revision or "main")
        except Exception as exc:  # offline, unknown repo, not a CLIP checkpoint
            raise UsageError(f"cannot load CLIP model {model_id!r} ({exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0][:200]})") from None
        self.model_id = model_id
        self.device = device
        self._torch = torch

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def _normalise(self, t) -> np.ndarray:
        t = self._torch.nn.functional.normalize(t.float(), dim=-1)
        return t.cpu().numpy().astype(np.float32)

    def embed_images(self, images: Sequence) -> np.ndarray:
        """PIL images (RGB) → [n, D] unit vectors."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = self.processor(images=list(images), return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            return self._normalise(_features(self.model.get_image_features(pixel_values=inputs["pixel_values"])))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → [n, D] unit vectors (truncated to the model's context)."""
        inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True).to(self.device)
        with self._torch.inference_mode():
            return self._normalise(_features(self.model.get_text_features(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"))))
