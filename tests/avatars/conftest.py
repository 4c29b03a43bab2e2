"""Fixtures for the avatar dataset tests: a tiny random SD pipeline and one small real build."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Tiny models on a small shared machine: one BLAS thread is faster than oversubscribing (also for subprocesses).
os.environ.setdefault("OMP_NUM_THREADS", "1")

SMALL = dict(n=12, height=64, width=64, steps=2)


@pytest.fixture(scope="session")
def small() -> dict:
    """Settings of the shared small build (12 images, 64x64, 2 steps)."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    pytest.importorskip("diffusers", reason="the avatar builder needs diffusers (extra [build])")
    from vbench.testing.tiny_sd import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def built_avatars(tiny_sd, tmp_path_factory) -> Path:
    """12 avatars rendered by the real builder (read-only: copy it with `fresh_copy` before changing it)."""
    from vbench.data.avatars.builder import BuildSpec, build_avatars

    out = tmp_path_factory.mktemp("built") / "avatars"
    build_avatars(out, BuildSpec(model_id=str(tiny_sd), **SMALL), batch_size=4, progress=False)
    return out


@pytest.fixture
def fresh_copy(tmp_path):
    def copy(src: Path, name: str = "copy") -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        return dst

    return copy
