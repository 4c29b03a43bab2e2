"""Is a model or dataset name a local path or a Hub id? Decided up front, so a typo fails in seconds.

A name that looks local (``./x``, ``/x``, ``~/x``, more than one ``/``, or whose first component is an
existing folder, like ``demo/tiny-lava`` next to ``demo/``) is never tried as a Hub id: a missing one
is "no such folder" with the closest sibling suggested. A Hub id is checked against the local
Hugging Face cache first, then (unless ``HF_HUB_OFFLINE``) with one short request, so an unreachable
Hub or an unknown repository is one line instead of minutes of retries.
"""
from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from vbench.errors import UsageError

HUB_TIMEOUT_S = 4.0


class HubUnavailable(UsageError):
    """A Hub id that is neither cached nor answering; ``reason`` is the short cause."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def looks_local(spec: str) -> bool:
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1:
        return True
    first = spec.split("/", 1)[0]
    return Path(first).expanduser().is_dir() or Path(spec).expanduser().exists()


def no_such_folder(spec: str) -> str:
    """'no such folder: demo/tiny-lava (did you mean demo/tiny-llava?)'."""
    path = Path(spec.rstrip("/")).expanduser()
    hint = ""
    if path.parent.is_dir():
        names = [p.name for p in path.parent.iterdir() if not p.name.startswith(".")]
        close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean {Path(spec.rstrip('/')).parent / close[0]}?)"
    return f"no such folder: {spec}{hint}"


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


@lru_cache(maxsize=64)
def check_hub_repo(repo_id: str, repo_type: Literal["model", "dataset"], *, probe_file: str | None = None) -> None:
    """UsageError unless ``repo_id`` is in the local cache or answers on the Hub within a few seconds
    (asked once per process)."""
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if probe_file and isinstance(try_to_load_from_cache(repo_id, probe_file, repo_type=repo_type), str):
        return
    what = "model" if repo_type == "model" else "dataset"
    if hub_offline():
        if repo_type == "dataset" or probe_file is None:
            return  # datasets' own offline mode reads its cache and fails fast
        raise UsageError(f"{what} {repo_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
                         "download it first or pass a local folder")
    try:
        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return  # exists; access is the loader's (clear) error
    except RepositoryNotFoundError:
        raise HubUnavailable(f"no such {what} on the Hugging Face Hub: {repo_id} (and no local folder of that name)",
                             "not on the Hub") from None
    except Exception as exc:  # connection refused, DNS, timeout
        raise HubUnavailable(f"cannot reach the Hugging Face Hub for {what} {repo_id!r} ({exc.__class__.__name__}); "
                             "set HF_HUB_OFFLINE=1 to use a cached copy, or pass a local folder",
                             f"Hub unreachable: {exc.__class__.__name__}") from None


def check_model_source(pretrained: str) -> str:
    """A local model folder must exist; a Hub id must be cached or reachable. Returns the name unchanged."""
    if looks_local(pretrained):
        folder = Path(pretrained).expanduser()
        if not folder.is_dir():
            raise UsageError(no_such_folder(pretrained))
        if not (folder / "config.json").is_file():
            raise UsageError(f"{pretrained} is not a model folder: it has no config.json (a save_pretrained or "
                             "Hub snapshot folder has one)")
        return pretrained
    check_hub_repo(pretrained, "model", probe_file="config.json")
    return pretrained


def check_dataset_source(spec: str | None) -> None:
    """The --dataset check done first thing (no ``datasets`` import): a missing local path or an
    unreachable Hub id fails before anything else is loaded. Short names (``avatars``) pass through."""
    if not spec or Path(spec).expanduser().exists():
        return
    if looks_local(spec):
        raise UsageError(f"dataset not found: {no_such_folder(spec)}")
    if spec.count("/") == 1:
        check_hub_dataset(spec)


def check_hub_dataset(spec: str) -> None:
    """check_hub_repo for a dataset; vbench's own default datasets say how to build them locally instead."""
    from vbench.data.defaults import DEFAULT_DATASETS, unavailable_message

    try:
        check_hub_repo(spec, "dataset")
    except HubUnavailable as exc:
        if spec in DEFAULT_DATASETS.values():
            raise UsageError(unavailable_message(spec, exc.reason)) from None
        raise
