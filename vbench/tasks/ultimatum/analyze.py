"""Re-analyse negotiation transcripts without the model that played them.

Reads transcript JSONL (bare transcripts or a run's samples.jsonl), re-extracts every round's outcome
(rules by default, the release's LLM judge through any runner on request, or keeps the given outcome
fields and extracts only the missing ones), computes the same metrics block as an eval run and writes,
per study, ``analysis.json`` and the transcripts with the outcomes used (``transcripts.jsonl``) so each
extraction can be audited. Given labels that cannot be right are dropped and counted, not fatal.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from vbench.errors import UsageError
from vbench.results import atomic_write_text
from vbench.tasks.ultimatum.extraction import RULES, rule_outcomes, rule_outcomes_many
from vbench.tasks.ultimatum.metrics import compute_metrics
from vbench.tasks.ultimatum.transcripts import Transcript, dump_jsonl, load_transcripts
from vbench.version import __version__, git_commit

TASK_OF = {"solo": "ultimatum_solo", "pair": "ultimatum_pair"}


def _judge(transcripts: list[Transcript], model: str, model_args: str | None, cache_dir: str | None,
           batch_size: int | str) -> int:
    """Replace outcomes with the LLM judge's; returns how many games fell back to the rules (errors)."""
    from vbench.runners.scheduler import EpisodeSpec
    from vbench.session import Session
    from vbench.tasks.ultimatum.base import PROMPTS
    from vbench.tasks.ultimatum.game import judged_outcomes

    def episode(tr: Transcript):
        outcomes = yield from judged_outcomes(tr, PROMPTS, role="default")
        return {"outcomes": outcomes}

    failed = 0

    def on_record(rec) -> None:
        nonlocal failed
        tr = transcripts[rec.index]
        if rec.status == "ok":
            tr.outcomes = rec.outputs["outcomes"]
        else:
            failed += 1
            tr.outcomes = rule_outcomes(tr)

    specs = (EpisodeSpec(episode_id=t.game_id, index=i, sample={}, gen=episode(t)) for i, t in enumerate(transcripts))
    with Session(cache_dir, batch_size=batch_size) as session:
        session.add_runner("default", model, model_args)
        session.scheduler(task_name="ultimatum_judge").run(specs, on_record)
    return failed


def _field_counts(games: list[Transcript]) -> dict[str, int]:
    """Round fields (offer, accepted) kept from the input vs extracted, for this study's games."""
    given = sum(len(t._given.get(o.round, ())) for t in games for o in t.outcomes if o.extractor.startswith("given"))
    extracted = 2 * sum(len(t.outcomes) for t in games) - given
    return {"fields_given": given, "fields_extracted": extracted,
            "re_extracted_games": sum(any(o.extractor != "given" for o in t.outcomes) for t in games)}


def _metrics(games: list[Transcript], study: str, language: bool) -> dict[str, Any]:
    """The metrics block; without language measures no turn text is read (the block keeps its shape, n = 0)."""
    if language:
        return compute_metrics(games, study)
    metrics = compute_metrics([t.model_copy(update={"turns": []}) for t in games], study)
    metrics["language"]["skipped"] = True
    return metrics


def analyze(paths: Iterable[str | Path], output_path: str | Path, *, keep_outcomes: bool = False,
            n_levels: int = 7, judge_model: str | None = None, judge_args: str | None = None,
            cache_dir: str | None = None, batch_size: int | str = "auto",
            language: bool = True) -> dict[str, dict[str, Any]]:
    """Analyse transcripts; returns {task name: analysis document} and writes them under output_path."""
    if n_levels < 2:
        raise UsageError(f"--levels must be at least 2, got {n_levels}")
    if keep_outcomes and judge_model:
        raise UsageError("--keep-outcomes and --judge-model exclude each other")
    loaded = load_transcripts(paths, n_levels)
    transcripts = loaded.transcripts
    if not transcripts:
        raise UsageError(f"no game transcripts in {', '.join(loaded.sources)}")
    if judge_model:
        judge_failed = _judge(transcripts, judge_model, judge_args, cache_dir, batch_size)
    else:
        judge_failed = 0
        rule_outcomes_many(transcripts, keep_given=keep_outcomes)
    docs: dict[str, dict[str, Any]] = {}
    for study in ("solo", "pair"):
        games = [t for t in transcripts if t.study == study]
        if not games:
            continue
        docs[TASK_OF[study]] = {
            "task": TASK_OF[study],
            "vbench_version": __version__,
            "git_commit": git_commit(),
            "sources": loaded.sources,
            "extraction": {"mode": "judge" if judge_model else ("kept" if keep_outcomes else "rules"),
                           "rules_version": RULES, "judge_model": judge_model, **_field_counts(games),
                           "dropped_labels": loaded.dropped_labels.model_dump(), "judge_fallbacks": judge_failed},
            "counts": {"n_games": len(games), "errored_games_in_input": loaded.errored_games,
                       "games_usable": sum(t.model_turns_usable() for t in games)},
            "metrics": _metrics(games, study, language),
        }
    out = Path(output_path)
    for task, doc in docs.items():  # everything is computed before the first file is written
        study = doc["metrics"]["study"]
        atomic_write_text(out / task / "transcripts.jsonl", dump_jsonl(t for t in transcripts if t.study == study))
        atomic_write_text(out / task / "analysis.json", json.dumps(doc, indent=2) + "\n")
    return docs
