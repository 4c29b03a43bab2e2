"""Shared fixtures: tiny models and synthetic data built once per session, a CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory) -> Path:
    from vbench.testing.tiny_models import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("models") / "tiny-llava")


@pytest.fixture(scope="session")
def tiny_qwen2vl(tmp_path_factory) -> Path:
    pytest.importorskip("torchvision", reason="Qwen2-VL's processor needs torchvision")
    from vbench.testing.tiny_models import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("models") / "tiny-qwen2vl")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    from vbench.testing.tiny_models import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def avatars(tmp_path_factory) -> Path:
    from vbench.data.synthetic import build_synthetic_avatars

    return build_synthetic_avatars(tmp_path_factory.mktemp("data") / "avatars", n=12, seed=0)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Keep the response cache and image store inside the test's tmp dir."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VBENCH_CACHE", str(cache))
    import vbench.images as images

    monkeypatch.setattr(images, "_default", None)
    return cache


@pytest.fixture
def run_cli(tmp_path):
    """Run `python -m vbench ARGS` in a subprocess (the repo's own sources); returns CompletedProcess."""

    def run(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "VBENCH_CACHE": str(tmp_path / "cli-cache"), **(env or {})}
        return subprocess.run([sys.executable, "-m", "vbench", *args], cwd=cwd or tmp_path, env=full_env,
                              capture_output=True, text=True, timeout=timeout)

    return run
