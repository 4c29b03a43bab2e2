"""`build_avatars`: the factorial design rendered by a diffusers pipeline into an HF imagefolder dataset.

Layout of the output folder (loadable by ``datasets.load_dataset("imagefolder")`` and every task):
``images/avatar-NNNNN.png``, ``metadata.jsonl`` (one row per finished image, with ``file_name``),
``build.json`` (what was asked: model, templates, seed, size, steps) and ``README.md`` (the card).

Resumable: a row is appended only after its image is on disk, so after a crash or Ctrl-C the same
command skips every finished image; a torn last line is dropped. Image encoding runs on a writer
thread, overlapped with the next pipeline call.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field

from vbench.data.avatars.design import AvatarItem, load_templates, make_design
from vbench.data.avatars.pipeline import T2IPipeline, load_pipeline
from vbench.data.atomic import write_atomic
from vbench.errors import UsageError

META, MANIFEST = "metadata.jsonl", "build.json"


class BuildSpec(BaseModel):
    """What identifies a build; a resume must ask for the same (only ``n`` may grow)."""

    model_id: str
    templates: str = "1"
    template_version: str = ""
    template_sha256: str = ""
    seed: int = 0
    factors: list[str] = Field(default_factory=list)
    n: int = Field(5185, ge=1)
    height: int = Field(512, ge=8)
    width: int = Field(512, ge=8)
    steps: int = Field(30, ge=1)
    guidance_scale: float = 7.5

    def identity(self) -> dict[str, Any]:
        return self.model_dump(exclude={"n", "templates"})


class BuildStats(BaseModel):
    generated: int = 0
    skipped: int = 0
    total: int = 0
    wall_s: float = 0.0
    pipeline_s: float = 0.0

    @property
    def overhead(self) -> float:
        """Share of the generation loop's wall time spent outside the pipeline call."""
        return 0.0 if self.wall_s <= 0 else max(0.0, self.wall_s - self.pipeline_s) / self.wall_s


def metadata_row(item: AvatarItem, spec: BuildSpec) -> dict[str, Any]:
    return {"file_name": item.file_name, "id": item.id, "prompt": item.prompt, "negative_prompt": item.negative_prompt,
            "seed": item.seed, "model_id": spec.model_id, **item.factors, "subject": item.subject,
            "species": item.species, "style": item.style, "background": item.background,
            "template_version": spec.template_version, "width": spec.width, "height": spec.height,
            "steps": spec.steps, "guidance_scale": spec.guidance_scale}


def read_rows(out: Path) -> list[dict[str, Any]]:
    """Finished rows: parseable lines whose image exists (a torn last line or lost file is dropped)."""
    rows: dict[str, dict[str, Any]] = {}
    path = out / META
    if not path.exists():
        return []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("file_name") and (out / row["file_name"]).is_file():
            rows[row["id"]] = row
    return sorted(rows.values(), key=lambda r: r["id"])


def write_rows(out: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite metadata.jsonl; every row gets every column (rows added after a verification lack its
    columns, and a JSON table needs one schema)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    write_atomic(out / META, "".join(json.dumps({k: r.get(k) for k in columns}, ensure_ascii=False) + "\n"
                                     for r in rows))


def _check_resume(out: Path, spec: BuildSpec) -> None:
    if not out.exists():
        return
    manifest = out / MANIFEST
    if not manifest.exists():
        if any(out.iterdir()):
            raise UsageError(f"{out} exists and is not an avatar build folder (no {MANIFEST}); choose another --out")
        return
    old = BuildSpec.model_validate_json(manifest.read_text(encoding="utf-8"))
    for key, value in spec.identity().items():
        if old.identity()[key] != value:
            raise UsageError(f"{out} was built with {key}={old.identity()[key]!r}, not {value!r}: re-run with the "
                             f"same settings to resume, or choose another --out")
    if spec.n < old.n:
        raise UsageError(f"{out} was planned for n={old.n}; a resume may only grow --n (asked {spec.n})")


class _Writer:
    """Encodes and saves one batch at a time on a thread; the row is appended after the file exists."""

    def __init__(self, out: Path, spec: BuildSpec, on_saved: Callable[[int], object]):
        self.out, self.spec, self.on_saved = out, spec, on_saved
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="avatar-writer")
        self.pending: Future | None = None
        self.meta = open(out / META, "a", encoding="utf-8")

    def _save(self, items: list[AvatarItem], images: list[Any]) -> None:
        for item, image in zip(items, images):
            path = self.out / item.file_name
            tmp = path.with_name(f".{path.name}.tmp")
            image.save(tmp, format="PNG")
            os.replace(tmp, path)
            self.meta.write(json.dumps(metadata_row(item, self.spec), ensure_ascii=False) + "\n")
        self.meta.flush()
        os.fsync(self.meta.fileno())
        self.on_saved(len(items))

    def submit(self, items: list[AvatarItem], images: list[Any]) -> None:
        self.wait()
        self.pending = self.pool.submit(self._save, items, images)

    def wait(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.pool.shutdown(wait=True)
            self.meta.close()


def build_avatars(out: str | Path, spec: BuildSpec, *, batch_size: int = 8, device: str = "auto",
                  dtype: str = "auto", revision: str | None = None, cpu_offload: bool = False,
                  progress: bool = True, pipeline: T2IPipeline | None = None, write_card: bool = True) -> BuildStats:
    """Generate every planned image not yet in ``out``; returns counts and timings."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise UsageError("--batch-size must be >= 1")
    out = Path(out)
    templates = load_templates(spec.templates)
    design = make_design(templates, spec.n, spec.seed, spec.factors or None)
    spec = spec.model_copy(update={"template_version": templates.version, "template_sha256": templates.sha256,
                                   "factors": spec.factors or list(templates.factors)})
    _check_resume(out, spec)
    done = {r["id"] for r in read_rows(out)}
    todo = [item for item in design if item.id not in done]
    stats = BuildStats(skipped=len(design) - len(todo), total=len(design))
    if todo:
        pipe = pipeline or load_pipeline(spec.model_id, device, dtype, revision, cpu_offload)  # before any write
        (out / "images").mkdir(parents=True, exist_ok=True)
        write_atomic(out / MANIFEST, spec.model_dump_json(indent=2))
        write_rows(out, read_rows(out))  # drop a torn line before appending
        bar = tqdm(total=len(design), initial=stats.skipped, unit="img", desc="avatars", disable=not progress,
                   dynamic_ncols=True)
        writer = _Writer(out, spec, bar.update)
        t0 = time.perf_counter()
        try:
            for start in range(0, len(todo), batch_size):
                batch = todo[start:start + batch_size]
                t1 = time.perf_counter()
                images = pipe([i.prompt for i in batch], [i.negative_prompt for i in batch], [i.seed for i in batch],
                              steps=spec.steps, guidance=spec.guidance_scale, height=spec.height, width=spec.width)
                stats.pipeline_s += time.perf_counter() - t1
                writer.submit(batch, images)
                stats.generated += len(batch)
        finally:
            writer.close()  # finished images keep their rows even on Ctrl-C
            stats.wall_s = time.perf_counter() - t0
            bar.close()
    rows = read_rows(out)
    write_rows(out, rows)
    if write_card and rows:
        from vbench.data.cards import write_card_for

        write_card_for(out, template="avatars", context={"build": spec.model_dump()})
    return stats
