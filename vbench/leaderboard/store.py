"""Where submissions live: a results dataset on the Hub or a local folder with the same layout.

Layout (documented in datasets_card/results.md)::

    submissions/<model>/<task>__<version>__<run id>.json      one packed run per file
    verifications/<model>/<same file name>                    outcome of `vbench leaderboard verify`

Writes to the Hub go through ``HfApi.create_commit(create_pr=True)``: a submission is a pull request
the dataset's maintainers merge. Reads of a folder only look one level into each model folder, never
follow symlinks, and never leave the root.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vbench.errors import UsageError
from vbench.leaderboard.schema import Limits

SUBMISSIONS, VERIFICATIONS = "submissions", "verifications"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def is_hub_id(spec: str) -> bool:
    """ORG/NAME that is not an existing local path and does not look like one (./x, /x, ~/x)."""
    if spec.startswith((".", "/", "~")) or Path(spec).exists():
        return False
    return bool(_HUB_ID.match(spec)) and ".." not in spec


def inside(root: Path, rel: str) -> Path:
    """``root / rel`` resolved, refusing anything that would land outside ``root``."""
    base = root.resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base) or target == base:
        raise UsageError(f"refusing path {rel!r}: it leaves {root}")
    return target


@dataclass
class Listing:
    submissions: list[tuple[str, Path]] = field(default_factory=list)
    verifications: list[tuple[str, Path]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def list_files(root: Path, limits: Limits) -> Listing:
    """Every ``<kind>/<model>/<file>.json`` under root; anything else there is listed with a reason.

    Symbolic links are never followed; a JSON file too shallow or too deep, or a folder that cannot be
    read, is reported by path (never silently skipped).
    """
    out = Listing()
    count = 0
    for kind, bucket in ((SUBMISSIONS, out.submissions), (VERIFICATIONS, out.verifications)):
        top = root / kind
        if top.is_symlink():
            out.rejected.append((kind, "symbolic link: not followed"))
            continue
        if not top.is_dir():
            continue
        for rel, path, depth, error in _walk(top, kind):
            if error:
                out.rejected.append((rel, error))
                continue
            if depth != 2:
                out.rejected.append((rel, f"not at {kind}/<model>/<file>.json (found {depth - 1} folder(s) deep): "
                                          "not read"))
                continue
            count += 1
            if count > limits.max_files:
                out.rejected.append((rel, f"more than {limits.max_files:,} files: the rest are not read"))
                return out
            bucket.append((rel, path))
    return out


def _walk(top: Path, prefix: str, max_depth: int = 6):
    """(rel, path, depth, error) for each JSON file or problem under ``top``, sorted, links not followed."""
    stack = [(top, prefix, 1)]
    while stack:
        folder, rel_dir, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield rel_dir, folder, depth, f"cannot be read ({exc.strerror or type(exc).__name__})"
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}"
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if entry.name.endswith(".json") or depth == 1:
                    yield rel, Path(entry.path), depth, "symbolic link: not followed"
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                yield rel, Path(entry.path), depth, f"cannot be read ({exc.strerror or type(exc).__name__})"
                continue
            if is_dir:
                if depth >= max_depth:
                    yield rel, Path(entry.path), depth + 1, f"nested more than {max_depth} folders deep: not read"
                else:
                    subdirs.append((Path(entry.path), rel, depth + 1))
            elif entry.name.endswith(".json"):
                if not os.access(entry.path, os.R_OK):
                    yield rel, Path(entry.path), depth, "cannot be read (permission denied)"
                else:
                    yield rel, Path(entry.path), depth, None
        stack.extend(reversed(subdirs))


def open_source(spec: str, revision: str | None = None) -> Path:
    """A local folder as is, or a Hub dataset downloaded (only the JSON files of the layout)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if not is_hub_id(spec):
        raise UsageError(f"--from {spec!r}: no such folder, and not a Hub dataset id (ORG/NAME)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(spec, repo_type="dataset", revision=revision,
                                      allow_patterns=[f"{SUBMISSIONS}/*/*.json", f"{VERIFICATIONS}/*/*.json"]))
    except (RepositoryNotFoundError, LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise UsageError(f"cannot download results dataset {spec!r}: {str(exc).splitlines()[0][:200]}") from None


class Destination:
    """Receives packed files under their layout paths; returns where they went (folder or PR URL)."""

    def put(self, files: dict[str, bytes], message: str, description: str = "") -> str:  # pragma: no cover
        raise NotImplementedError


class FolderDestination(Destination):
    """A local results dataset. A run already present (same path = same run id) is left as it is."""

    def __init__(self, root: Path):
        self.root = root
        self.skipped: list[str] = []

    def put(self, files: dict[str, bytes], message: str, description: str = "") -> str:
        targets = {rel: inside(self.root, rel) for rel in files}
        self.skipped = [rel for rel, target in targets.items() if target.exists()]
        for rel, target in targets.items():
            if rel in self.skipped:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
            tmp.write_bytes(files[rel])
            os.replace(tmp, target)
        return str(self.root)


class HubDestination(Destination):
    def __init__(self, repo_id: str, token: str | None = None):
        self.repo_id = repo_id
        self.token = token

    def put(self, files: dict[str, bytes], message: str, description: str = "") -> str:
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.errors import HfHubHTTPError

        ops = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=data) for rel, data in sorted(files.items())]
        try:
            info = HfApi(token=self.token).create_commit(
                self.repo_id, ops, commit_message=message, commit_description=description or None,
                repo_type="dataset", create_pr=True)
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise UsageError(f"cannot open a pull request on {self.repo_id}: {str(exc).splitlines()[0][:200]}") from None
        return str(getattr(info, "pr_url", None) or getattr(info, "commit_url", self.repo_id))


def destination_for(spec: str, token: str | None = None) -> Destination:
    if is_hub_id(spec):
        return HubDestination(spec, token)
    path = Path(spec).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"--to {spec!r} is a file; give a folder or a Hub dataset id (ORG/NAME)")
    return FolderDestination(path)
