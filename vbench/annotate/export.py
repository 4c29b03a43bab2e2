"""`vbench annotate export`: ratings → ``human_rating`` (mean), ``human_rating_n``, ``human_rating_sd`` columns.

Raters whose attention-check pass rate is below ``min_check_pass`` are left out; a rater who rated an
image twice counts once (the last rating). An imagefolder dataset gets its metadata.jsonl rewritten
(atomically, in place or in a copy with hard-linked images); any other dataset is saved with
``save_to_disk`` to ``--out``.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vbench.annotate.items import ItemSet
from vbench.annotate.store import RatingStore
from vbench.data.atomic import replace_dir, write_atomic
from vbench.errors import UsageError

COLUMNS = ("human_rating", "human_rating_n", "human_rating_sd")


class ExportReport(BaseModel):
    out: str
    items: int
    rated_items: int
    ratings_used: int
    raters_used: int
    excluded_raters: dict[str, float]
    check_pass: dict[str, float]


def aggregate(store: RatingStore, min_check_pass: float = 0.8):
    """Per item (mean, n, sd) and the per-rater attention-check pass rates."""
    df = store.frame()
    checks = df[df.is_check == 1]
    pass_rate = (checks.rating == checks.expected).groupby(checks.rater_id).mean().to_dict() if len(checks) else {}
    excluded = {r: float(p) for r, p in pass_rate.items() if p < min_check_pass}
    real = df[(df.is_check == 0) & ~df.rater_id.isin(list(excluded))]
    real = real.sort_values("id").drop_duplicates(["rater_id", "item_id"], keep="last")
    per_item = real.groupby("item_id")["rating"].agg(["mean", "count", "std"])
    stats = {key: (float(row["mean"]), int(row["count"]), None if math.isnan(row["std"]) else float(row["std"]))
             for key, row in per_item.iterrows()}
    return stats, excluded, {r: float(p) for r, p in pass_rate.items()}, real


def _columns(stats: dict[str, tuple], key: str) -> dict[str, Any]:
    mean, n, sd = stats.get(key, (None, 0, None))
    return {"human_rating": None if mean is None else round(mean, 4), "human_rating_n": n,
            "human_rating_sd": None if sd is None else round(sd, 4)}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _export_imagefolder(src: Path, out: Path, items: ItemSet, stats: dict[str, tuple]) -> None:
    from vbench.annotate.items import item_key

    rows = []
    for line in (src / "metadata.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    for i, row in enumerate(rows):
        row.update(_columns(stats, item_key(row, i, items.id_column)))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out.resolve() == src.resolve():
        write_atomic(src / "metadata.jsonl", text)
        return
    if out.exists() and any(out.iterdir()) and not (out / "metadata.jsonl").is_file():
        raise UsageError(f"{out} exists and is not a dataset folder; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, 0o755)
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        os.unlink(tmp / "metadata.jsonl")  # a hard link would write through to the source
        (tmp / "metadata.jsonl").write_text(text, encoding="utf-8")
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export_generic(out: Path, items: ItemSet, stats: dict[str, tuple]) -> None:
    import datasets

    ds = items.ds.remove_columns([c for c in COLUMNS if c in items.ds.column_names])
    values = [_columns(stats, k) for k in items.keys]
    for col, feature in zip(COLUMNS, ("float64", "int64", "float64")):
        ds = ds.add_column(col, [v[col] for v in values], feature=datasets.Value(feature))
    ds = ds.cast_column("image", datasets.Image())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        ds.save_to_disk(str(tmp / "data"))
        replace_dir(tmp / "data", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_ratings(dataset: str, db: str | Path, out: str | Path | None = None, *, min_check_pass: float = 0.8,
                   id_column: str | None = None) -> ExportReport:
    if not Path(db).is_file():
        raise UsageError(f"no rating database at {db}")
    if not 0.0 <= min_check_pass <= 1.0:
        raise UsageError("--min-check-pass must be between 0 and 1")
    items = ItemSet(dataset, id_column=id_column, check_every=0)
    store = RatingStore(db)
    try:
        bound = store.meta("fingerprint")
        if bound is None:
            raise UsageError(f"{db} holds no ratings yet (start the app with `vbench annotate --dataset ...`)")
        if bound != items.fingerprint:
            raise UsageError(f"{db} holds ratings of another dataset ({store.meta('dataset')}), not {dataset}")
        stats, excluded, passes, used = aggregate(store, min_check_pass)
    finally:
        store.close()
    src = Path(dataset).expanduser()
    is_folder = src.is_dir() and (src / "metadata.jsonl").is_file()
    if out is None and not is_folder:
        raise UsageError(f"--out is required: {dataset} is not a local imagefolder that can be updated in place")
    target = Path(out).expanduser() if out else src
    if is_folder:
        _export_imagefolder(src, target, items, stats)
    else:
        _export_generic(target, items, stats)
    if (target / "README.md").is_file():
        from vbench.data.cards import write_card_for

        write_card_for(target)
    return ExportReport(out=str(target), items=len(items), rated_items=sum(1 for k in items.keys if k in stats),
                        ratings_used=len(used), raters_used=int(used.rater_id.nunique()), excluded_raters=excluded,
                        check_pass=passes)
