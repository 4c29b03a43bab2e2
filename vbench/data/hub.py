"""Publish and download vbench datasets: the HF Hub through ``datasets``/``huggingface_hub``, or a local folder.

A local folder target receives exactly what the Hub would (``data/train-XXXXX-of-YYYYY.parquet`` with
the images embedded, plus the card as ``README.md``), so offline users and tests exercise the same
layout, and `vbench eval --dataset FOLDER` reads it back.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from pathlib import Path

from vbench.data.atomic import replace_dir
from vbench.data.defaults import resolve_dataset, unavailable_message
from vbench.errors import UsageError, VbenchError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MAX_SHARD_BYTES = 500 * 1024 * 1024


def is_local(target: str) -> bool:
    """Local if it looks like a path (./x, /x, ~/x, file://x, x/y/z) or already exists; else a Hub id."""
    if target.startswith("file://"):
        return True
    return not _HUB_ID.match(target) or Path(target).expanduser().exists()


def _tmp_dir_beside(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would become the published folder's mode
    return tmp


def _local_path(target: str) -> Path:
    return Path(target[len("file://"):] if target.startswith("file://") else target).expanduser()


def _load_for_push(src: str | Path):
    import datasets

    from vbench.data.loading import load_rows

    if not Path(src).expanduser().exists():
        raise UsageError(f"nothing to push: {src} does not exist")
    ds = load_rows(str(Path(src).expanduser()))
    if "image" in ds.column_names and isinstance(ds.features["image"], datasets.Image):
        ds = ds.cast_column("image", datasets.Image())  # published with decoding on, as users expect
    return ds


def _card(src: Path, ds, template: str | None, license: str | None) -> str:
    from vbench.data.cards import card_template, render_card

    readme = src / "README.md"
    base = readme.read_text("utf-8") if readme.is_file() and template is None else card_template(template or "generic")
    return render_card(ds, base, data_files="data/train-*", overrides={"license": license})


def _write_parquet_shards(ds, folder: Path) -> list[Path]:
    """The shards ``push_to_hub`` would upload, images embedded (same naming, same size bound)."""
    from datasets.table import embed_table_storage

    try:
        nbytes = ds._estimate_nbytes()  # accounts for image files referenced by path
    except Exception:
        nbytes = ds.data.nbytes
    shards = max(1, math.ceil(nbytes / MAX_SHARD_BYTES))
    (folder / "data").mkdir(parents=True)
    paths = []
    for i in range(shards):
        shard = ds.shard(num_shards=shards, index=i, contiguous=True).with_format("arrow")
        shard = shard.map(embed_table_storage, batched=True, keep_in_memory=True).with_format(None)
        path = folder / "data" / f"train-{i:05d}-of-{shards:05d}.parquet"
        shard.to_parquet(str(path))
        paths.append(path)
    return paths


def push_dataset(src: str | Path, repo: str, *, private: bool = False, token: str | None = None,
                 card: str | None = None, license: str | None = None) -> str:
    """Upload ``src`` (any dataset vbench can load) with its card to ``repo`` (Hub id or local folder)."""
    import datasets

    datasets.disable_progress_bars()
    src = Path(src).expanduser()
    ds = _load_for_push(src)
    text = _card(src, ds, card, license)
    if is_local(repo):
        final = _local_path(repo)
        if final.exists() and not (final / "README.md").is_file() and any(final.iterdir()):
            raise UsageError(f"{final} exists and is not an earlier push (no README.md); choose another --repo")
        tmp = _tmp_dir_beside(final)
        try:
            _write_parquet_shards(ds, tmp)
            (tmp / "README.md").write_text(text, encoding="utf-8")
            replace_dir(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return str(final)
    from huggingface_hub import DatasetCard

    try:
        ds.push_to_hub(repo, private=private, token=token, max_shard_size=MAX_SHARD_BYTES,
                       commit_message="vbench data push")
        DatasetCard(text).push_to_hub(repo, token=token, repo_type="dataset", commit_message="vbench data card")
    except Exception as exc:  # offline, not logged in, no write access
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise VbenchError(f"cannot push to the Hub repo {repo!r} ({exc.__class__.__name__}: {first}); log in with "
                          "`hf auth login` or set HF_TOKEN, or push to a local folder with --repo ./FOLDER") from None
    return f"https://huggingface.co/datasets/{repo}"


def pull_dataset(repo: str, out: str | Path | None = None, *, revision: str | None = None,
                 token: str | None = None) -> Path:
    """Download ``repo`` (Hub id, short default name such as ``avatars``, or local folder) into ``out``."""
    from vbench.data.loading import load_rows

    repo = repo if Path(repo).expanduser().exists() else resolve_dataset(repo)
    final = Path(out).expanduser() if out else Path(_local_path(repo).name if is_local(repo) else repo.split("/")[-1])
    if final.exists() and any(final.iterdir()) and not (final / "README.md").is_file():
        raise UsageError(f"{final} exists and is not an earlier pull (no README.md); choose another --out")
    tmp = _tmp_dir_beside(final)
    try:
        if is_local(repo):
            src = _local_path(repo)
            if not src.is_dir():
                raise UsageError(f"nothing to pull: {src} is not a folder")
            shutil.copytree(src, tmp, dirs_exist_ok=True)
        else:
            from huggingface_hub import snapshot_download

            try:
                snapshot_download(repo_id=repo, repo_type="dataset", revision=revision, token=token, local_dir=tmp)
            except Exception as exc:  # offline, unknown or private repo
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise UsageError(unavailable_message(repo, f"{exc.__class__.__name__}: {first}")) from None
            shutil.rmtree(tmp / ".cache", ignore_errors=True)
        load_rows(str(tmp))  # a download that does not load is an error, not a result
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
