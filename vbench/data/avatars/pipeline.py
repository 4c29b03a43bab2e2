"""Loading any diffusers text-to-image pipeline, and calling it with one generator per image.

Kept apart from the builder so the builder's bookkeeping is tested with the real pipeline call and
nothing else: this module is the only one that knows diffusers.
"""
from __future__ import annotations

import inspect
import logging
import warnings
from pathlib import Path
from typing import Any

from vbench.errors import MissingDependencyError, UsageError

log = logging.getLogger(__name__)


def _looks_local(model_id: str) -> bool:
    return model_id.startswith((".", "/", "~")) or model_id.count("/") != 1 or Path(model_id).expanduser().exists()


class T2IPipeline:
    """A loaded pipeline plus how to call it: fp16 on GPU, fp32 on CPU, generators on CPU (reproducible)."""

    def __init__(self, pipe: Any, model_id: str, device: str, dtype: str):
        self.pipe = pipe
        self.model_id = model_id
        self.device = device
        self.dtype = dtype
        params = inspect.signature(pipe.__call__).parameters
        self.takes_negative = "negative_prompt" in params
        self.takes_guidance = "guidance_scale" in params

    def __call__(self, prompts: list[str], negatives: list[str], seeds: list[int], *, steps: int,
                 guidance: float, height: int, width: int) -> list[Any]:
        import torch

        kwargs: dict[str, Any] = {"prompt": prompts, "num_inference_steps": steps, "height": height, "width": width,
                                  "generator": [torch.Generator("cpu").manual_seed(s) for s in seeds]}
        if self.takes_negative:
            kwargs["negative_prompt"] = negatives
        if self.takes_guidance:
            kwargs["guidance_scale"] = guidance
        with torch.inference_mode():
            images = self.pipe(**kwargs).images
        if len(images) != len(prompts):
            raise RuntimeError(f"pipeline returned {len(images)} images for {len(prompts)} prompts")
        return images


def load_pipeline(model_id: str, device: str = "auto", dtype: str = "auto", revision: str | None = None,
                  cpu_offload: bool = False) -> T2IPipeline:
    """Load ``model_id`` (local folder or Hub id); a clear UsageError when it cannot be loaded."""
    if _looks_local(model_id) and not Path(model_id).expanduser().exists():
        raise UsageError(f"--model: no such pipeline folder: {model_id} (give a local diffusers folder with "
                         "model_index.json or a Hub id such as stable-diffusion-v1-5/stable-diffusion-v1-5)")
    try:
        import torch
        from diffusers import DiffusionPipeline
    except ImportError as exc:
        raise MissingDependencyError(f"building avatars ({exc.name})", "build") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "float16" if device.startswith("cuda") else "float32"
    if dtype not in ("float16", "bfloat16", "float32"):
        raise UsageError(f"--dtype: expected auto, float16, bfloat16 or float32, got {dtype!r}")
    try:
        with warnings.catch_warnings():  # diffusers renames torch_dtype; both spellings mean the same
            warnings.simplefilter("ignore", FutureWarning)
            pipe = DiffusionPipeline.from_pretrained(str(Path(model_id).expanduser()) if _looks_local(model_id) else model_id,
                                                     torch_dtype=getattr(torch, dtype), revision=revision)
    except Exception as exc:  # unknown repo, offline, not a diffusers folder, broken weights
        first = (str(exc).strip().splitlines() or [""])[0][:240]
        raise UsageError(f"cannot load diffusers pipeline {model_id!r} ({exc.__class__.__name__}: {first}); "
                         "give a local diffusers folder with model_index.json or a reachable Hub id") from None
    if "prompt" not in inspect.signature(pipe.__call__).parameters:
        raise UsageError(f"{model_id!r} loads as {type(pipe).__name__}, which is not a text-to-image pipeline")
    if cpu_offload and device.startswith("cuda"):
        pipe.enable_model_cpu_offload()
    else:
        pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s (%s) on %s as %s", model_id, type(pipe).__name__, device, dtype)
    return T2IPipeline(pipe, model_id, device, dtype)
