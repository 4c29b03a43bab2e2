"""Factor verification: ask a VLM one yes/no ``choose`` question per factor and compare with the prompt labels.

Runs through the normal Scheduler, runners and response cache (a re-run is free). Writes P(yes) per
factor (``vlm_p_<factor>``) and the factors asked for but not seen (``factor_flags``) into the build's
metadata, and a report ``factor_verification.json`` (agreement with 95% CI and Cohen's kappa per factor).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from vbench.analysis import stats
from vbench.analysis.stats import MetricValue
from vbench.data.atomic import write_atomic
from vbench.data.avatars.builder import MANIFEST, META, BuildSpec, read_rows, write_rows
from vbench.data.avatars.design import Templates, check_factors, load_templates
from vbench.errors import UsageError
from vbench.images import ImageError
from vbench.types import GenParams, ImagePart, Message, Record, Request

REPORT = "factor_verification.json"


class FactorAgreement(BaseModel):
    agreement: MetricValue
    kappa: float | None = None
    not_rendered: int = Field(0, description="label on, model says no")
    unwanted: int = Field(0, description="label off, model says yes")


class VerifyReport(BaseModel):
    model: str
    template_version: str
    threshold: float
    images: int
    errors: int
    factors: dict[str, FactorAgreement]
    flagged: dict[str, list[str]] = Field(description="image id → factors asked for but not seen")


def _episode(templates: Templates, factors: list[str], image: str):
    q = templates.verify
    reqs = [Request(kind="choose", options=tuple(q.options), gen=GenParams(temperature=0.0, max_tokens=1),
                    messages=(Message.user(ImagePart(image=image), f"{q.questions[f]} {q.suffix}"),))
            for f in factors]
    responses = yield reqs
    return {f: (r.probs or {}).get(q.options[0]) for f, r in zip(factors, responses)}


def _kappa(labels: list[int], preds: list[int]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(set(labels) | set(preds)) < 2:
        return None
    value = float(cohen_kappa_score(labels, preds))
    return value if value == value else None  # NaN when one rater is constant


def summarize(rows: list[dict[str, Any]], probs: dict[str, dict[str, float | None]], factors: list[str],
              threshold: float, seed: int = 0) -> tuple[dict[str, FactorAgreement], dict[str, list[str]]]:
    """Agreement per factor and the flagged images, from labels and P(yes)."""
    out: dict[str, FactorAgreement] = {}
    flagged: dict[str, list[str]] = {}
    for f in factors:
        pairs = [(int(r[f]), int(probs[r["id"]][f] >= threshold)) for r in rows
                 if r["id"] in probs and probs[r["id"]].get(f) is not None and r.get(f) is not None]
        labels, preds = [p[0] for p in pairs], [p[1] for p in pairs]
        out[f] = FactorAgreement(agreement=stats.rate([a == b for a, b in pairs], seed=seed), kappa=_kappa(labels, preds),
                                 not_rendered=sum(a == 1 and b == 0 for a, b in pairs),
                                 unwanted=sum(a == 0 and b == 1 for a, b in pairs))
    for r in rows:
        p = probs.get(r["id"], {})
        missing = [f for f in factors if r.get(f) == 1 and p.get(f) is not None and p[f] < threshold]
        if missing:
            flagged[r["id"]] = missing
    return out, flagged


def verify_avatars(folder: str | Path, model: str, model_args: str | dict | None = None, *,
                   factors: list[str] | None = None, threshold: float = 0.5, batch_size: int | str = "auto",
                   use_cache: bool = True, progress: bool = True) -> VerifyReport:
    from tqdm.auto import tqdm

    from vbench.runners.scheduler import EpisodeSpec
    from vbench.session import Session

    folder = Path(folder)
    if not (folder / META).is_file():
        raise UsageError(f"{folder} is not an avatar build folder (no {META}); build one with `vbench data build-avatars`")
    if not 0.0 < threshold < 1.0:
        raise UsageError("--threshold must be between 0 and 1")
    manifest = folder / MANIFEST
    spec = BuildSpec.model_validate_json(manifest.read_text("utf-8")) if manifest.is_file() else None
    templates = load_templates(spec.templates if spec else "1")
    factors = check_factors(factors, templates)
    rows = read_rows(folder)
    if not rows:
        raise UsageError(f"{folder} holds no finished images")
    probs: dict[str, dict[str, float | None]] = {}
    errors = 0

    def on_record(rec: Record) -> None:
        nonlocal errors
        if rec.status == "ok":
            probs[rec.episode_id] = rec.outputs
        else:
            errors += 1

    with Session(use_cache=use_cache, batch_size=batch_size) as session:
        runner = session.add_runner("default", model, model_args)
        images = {}
        for r in rows:
            try:
                images[r["id"]] = session.store.put(folder / r["file_name"]).image
            except ImageError as exc:
                raise UsageError(f"{r['file_name']}: {exc}") from None
        episodes = (EpisodeSpec(episode_id=r["id"], index=i, sample={"id": r["id"], "image": images[r["id"]]},
                                gen=_episode(templates, factors, images[r["id"]])) for i, r in enumerate(rows))
        with tqdm(total=len(rows), unit="img", desc="verify", disable=not progress) as bar:
            session.scheduler(task_name="verify_avatars", progress=bar.update).run(episodes, on_record)
    agreement, flagged = summarize(rows, probs, factors, threshold)
    for r in rows:
        p = probs.get(r["id"], {})
        for f in factors:
            r[f"vlm_p_{f}"] = None if p.get(f) is None else round(float(p[f]), 4)
        r["factor_flags"] = flagged.get(r["id"], [])
    report = VerifyReport(model=runner.model_name, template_version=templates.version, threshold=threshold,
                          images=len(rows), errors=errors, factors=agreement, flagged=flagged)
    write_rows(folder, rows)
    write_atomic(folder / REPORT, json.dumps(report.model_dump(mode="json"), indent=2))
    if (folder / "README.md").is_file():
        from vbench.data.cards import write_card_for

        write_card_for(folder)
    return report
