"""value_spectrum: which Schwartz values does a VLM prefer? (Value-Spectrum, protocol B1)

Each sample is a screenshot retrieved for a value keyword. The model is asked the released question
("... is this content interesting? ... yes or no"); scored as the parsed sampled answer (paper
fidelity) and/or as P(yes) from ``choose``. Optional follow-up questions continue the conversation.
``mode=ablation`` also runs the paper's §6 comparison: a ``captioner`` describes the image and an
``answerer`` answers from the caption alone; results give per-value differences and rank correlation
against the direct mode (same run, or a direct run's samples.jsonl with ``mode=caption``, whose answers
are copied into this run's records so that metrics() needs nothing but the options and the records).

Each screenshot serves one value (the nearest keyword's, by the split's distance) unless ``reuse`` is
set; how many screenshots were dropped or reused is recorded with every sample.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from vbench.data.defaults import default_dataset
from vbench.data.schwartz import load_schwartz
from vbench.errors import UsageError
from vbench.results import atomic_write_text
from vbench.tasks.base import Sample, Task, TaskContext, TaskOptions, stable_hash
from vbench.tasks.common import load_image_samples
from vbench.tasks.prompts import load_prompts
from vbench.tasks.value_spectrum import metrics as vm
from vbench.types import GenParams, ImagePart, Message, Record, Request

PROMPTS = load_prompts("vbench.tasks.value_spectrum")
KEEP = ["value", "keyword", "rank", "distance", "platform", "corpus_id"]
DIRECT_KEYS = ("answer", "interested", "parse_ok", "p_yes")


class Options(TaskOptions):
    scoring: Literal["both", "sampled", "choice"] = "both"
    profile: str = "released"
    followups: bool = False
    mode: Literal["direct", "ablation", "caption"] = "direct"
    direct_samples: str | None = None
    values: str | None = None
    reuse: bool = Field(False, description="let a screenshot listed under several values count for each")


def one_value_per_screenshot(samples: list[Sample], reuse: bool) -> list[Sample]:
    """Screenshots listed under several values: kept once, under the value of the nearest keyword (split
    distance; ties → first listed), unless ``reuse``. Every sample records the dataset's counts."""
    by_image: dict[str, list[Sample]] = {}
    for s in samples:
        by_image.setdefault(s.meta["image"], []).append(s)
    shared = {img: len({x.meta.get("value") for x in group}) for img, group in by_image.items()}
    n_shared = sum(n > 1 for n in shared.values())
    if reuse:
        kept = samples
    else:
        best = {img: min(group, key=lambda x: (x.meta.get("distance") is None, x.meta.get("distance") or 0.0))
                for img, group in by_image.items()}
        kept = [s for s in samples if best[s.meta["image"]] is s]
    for s in kept:
        s.meta.update(screenshot_values=shared[s.meta["image"]], screenshots_shared=n_shared,
                      rows_dropped=len(samples) - len(kept))
    return kept


def screenshot_block(records: list[Record], reuse: bool) -> dict[str, Any]:
    """How screenshots map to values in this run, from the facts every record carries."""
    images = {r.sample.get("image"): r.sample for r in records}
    facts = next(iter(images.values()), {})
    return {"n": len(images), "reuse": reuse,
            "shared_in_dataset": facts.get("screenshots_shared"),
            "rows_dropped": facts.get("rows_dropped"),
            "counted_for_several_values": sum((s.get("screenshot_values") or 1) > 1 for s in images.values()) if reuse else 0}


def resolve_split(spec: str) -> str:
    """A corpus folder stands for its split (CORPUS/split)."""
    p = Path(spec).expanduser()
    if (p / "meta.json").is_file() and (p / "split").is_dir():
        return str(p / "split")
    return spec


def spread(samples: list[Sample], limit: int | None) -> list[Sample]:
    """First ``limit`` samples taken round-robin over values, so a short run still covers all of them."""
    if limit is None or limit >= len(samples):
        return samples
    queues: dict[Any, list[Sample]] = {}
    for s in samples:
        queues.setdefault(s.meta.get("value"), []).append(s)
    out: list[Sample] = []
    while len(out) < limit:
        for q in queues.values():
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


class ValueSpectrum(Task[Options]):
    name = "value_spectrum"
    version = "2.0"
    description = "Preference for Schwartz values over short-video screenshots, yes/no (Value-Spectrum B1)"
    roles = ("default", "captioner", "answerer")

    def __init__(self, options: Options, ctx: TaskContext):
        super().__init__(options, ctx)
        if options.profile not in PROMPTS["profiles"]:
            raise UsageError(f"--task_args profile: unknown {options.profile!r} (known: {', '.join(PROMPTS['profiles'])})")
        if options.direct_samples and options.mode != "caption":
            raise UsageError("--task_args direct_samples goes with mode=caption (mode=ablation runs the direct mode itself)")
        self.values = load_schwartz(options.values)
        self._samples: list[Sample] | None = None
        self._direct: dict[str, dict[str, Any]] | None = None

    @property
    def dataset_spec(self) -> str:
        return resolve_split(self.ctx.dataset or default_dataset("screenshots"))

    @property
    def direct(self) -> bool:
        return self.options.mode in ("direct", "ablation")

    @property
    def caption(self) -> bool:
        return self.options.mode in ("ablation", "caption")

    def prompt_set(self) -> dict[str, Any]:
        o = self.options
        ps = {"version": PROMPTS["version"], "profile": PROMPTS["profiles"][o.profile], "options": PROMPTS["options"],
              "generation": PROMPTS["generation"], "scoring": o.scoring, "mode": o.mode,
              "schwartz_version": self.values.version}
        if o.followups:
            ps.update(followups=PROMPTS["followups"], followup_generation=PROMPTS["followup_generation"])
        if self.caption:
            ps.update(caption=PROMPTS["caption"], caption_generation=PROMPTS["caption_generation"])
        return ps

    # -- samples -----------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        if self._samples is None:
            samples, self.skipped = load_image_samples(self.dataset_spec, self.ctx.store, required=["image", "value"],
                                                       keep=KEEP, skip_bad=self.ctx.skip_bad_samples)
            for s in samples:
                if s.meta.get("keyword") is not None and s.meta.get("rank") is not None:
                    s.id = f"{s.meta['value']}/{s.meta['keyword']}/{s.meta['rank']}"
            ids = [s.id for s in samples]
            if len(set(ids)) != len(ids):
                for n, s in enumerate(samples):
                    s.id = f"{s.id}@{n}"
            samples = one_value_per_screenshot(samples, self.options.reuse)
            self._samples = spread(samples, self.ctx.limit)
            if not self._samples:
                raise UsageError(f"dataset {self.dataset_spec!r} has no usable samples")
            if self.options.direct_samples:
                self._direct = {r.episode_id: r.outputs for r in read_direct_samples(self.options.direct_samples)}
        return self._samples

    def dataset_fingerprint(self) -> str:
        return stable_hash([s.meta for s in self.samples()])

    # -- episode -------------------------------------------------------------------------
    def _ask(self, messages: tuple[Message, ...], role: str) -> list[Request]:
        gen = GenParams(**PROMPTS["generation"])
        reqs = []
        if self.options.scoring in ("both", "sampled"):
            reqs.append(Request(kind="generate", messages=messages, gen=gen, role=role))
        if self.options.scoring in ("both", "choice"):
            reqs.append(Request(kind="choose", messages=messages, gen=gen, options=tuple(PROMPTS["options"]), role=role))
        return reqs

    @staticmethod
    def _read(reqs: list[Request], resps: list, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for req, resp in zip(reqs, resps):
            if req.kind == "generate":
                out[f"{prefix}answer"] = resp.text
                out[f"{prefix}interested"] = vm.parse_yes_no(resp.text)
                out[f"{prefix}parse_ok"] = out[f"{prefix}interested"] is not None
            else:
                probs = resp.probs or {}
                out[f"{prefix}p_yes"] = probs.get("yes")
                out[f"{prefix}choice_method"] = resp.method
                out[f"{prefix}option_mass"] = resp.option_mass
        return out

    def episode(self, sample: Sample, repeat: int, seed: int):
        profile = PROMPTS["profiles"][self.options.profile]
        image = ImagePart(image=sample.meta["image"])
        base = (Message.system(profile["system"]), Message.user(image, profile["question"]))
        direct_reqs = self._ask(base, "default") if self.direct else []
        cap_req = [Request(kind="generate", role="captioner", gen=GenParams(**PROMPTS["caption_generation"]),
                           messages=(Message.user(image, PROMPTS["caption"]["captioner_prompt"]),))] if self.caption else []
        resps = yield direct_reqs + cap_req
        out = self._read(direct_reqs, resps[:len(direct_reqs)], "")
        if self._direct is not None:  # the earlier direct run's answers travel with this record
            given = self._direct.get(f"{sample.id}#{repeat}") or self._direct.get(sample.id) or {}
            out.update({f"direct_{k}": given[k] for k in DIRECT_KEYS if k in given})
        answer_reqs: list[Request] = []
        if self.caption:
            out["caption"] = caption = (resps[-1].text or "").strip()
            question = PROMPTS["caption"]["answerer_question"].format(caption=caption)
            answer_reqs = self._ask((Message.system(profile["system"]), Message.user(question)), "answerer")
        conv = list(base)
        followups = list(PROMPTS["followups"]) if self.options.followups and self.direct else []
        if followups:
            said = out.get("answer") or ("yes" if (out.get("p_yes") or 0) >= 0.5 else "no")
            conv += [Message.assistant(said)]
            out["followups"] = []
        fgen = GenParams(**PROMPTS["followup_generation"])
        while answer_reqs or followups:
            step = list(answer_reqs)
            if followups:
                conv.append(Message.user(followups[0]))
                step.append(Request(kind="generate", messages=tuple(conv), gen=fgen))
            resps = yield step
            if answer_reqs:
                out.update(self._read(answer_reqs, resps[:len(answer_reqs)], "caption_"))
                answer_reqs = []
            if followups:
                text = resps[-1].text or ""
                out["followups"].append({"question": followups.pop(0), "answer": text})
                conv.append(Message.assistant(text))
        return out

    # -- metrics ---------------------------------------------------------------------------
    @staticmethod
    def _rows(records: list[Record], prefix: str = "") -> list[dict[str, Any]]:
        """One row per record: sample facts, the screenshot (cluster) and the outputs (``prefix`` stripped)."""
        rows = []
        for r in records:
            outs = {k[len(prefix):]: v for k, v in r.outputs.items() if k.startswith(prefix)} if prefix else r.outputs
            rows.append({**{k: r.sample.get(k) for k in ("value", "keyword", "platform")}, **outs,
                         "cluster": r.sample.get("image") or r.episode_id.split("#")[0], "sample": r.episode_id})
        return rows

    def _blocks(self, rows: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
        order, m = self.values.names, {}
        if any(f"{prefix}interested" in r for r in rows):
            m[f"{prefix}preference"] = vm.preference_block(rows, f"{prefix}interested", order, f"{prefix}parse_ok",
                                                           f"{prefix}answer")
            flags = [(r[f"{prefix}parse_ok"], r["cluster"]) for r in rows if r.get(f"{prefix}parse_ok") is not None]
            m[f"{prefix}parse_rate"] = vm.stats.rate([f for f, _ in flags], [c for _, c in flags],
                                                     unit=vm.UNIT).model_dump()
        if any(f"{prefix}p_yes" in r for r in rows):
            m[f"{prefix}preference_p_yes"] = vm.preference_block(rows, f"{prefix}p_yes", order)
        return m

    def metrics(self, records: list[Record]) -> dict[str, Any]:
        """A pure function of the options and the records (direct answers of mode=caption are in the records)."""
        rows = self._rows(records)
        m: dict[str, Any] = {}
        if self.direct:
            m.update(self._blocks(rows, ""))
        if self.caption:
            m.update(self._blocks(rows, "caption_"))
        m["primary_score"] = "preference" if "preference" in m or "caption_preference" in m else "preference_p_yes"
        m["screenshots"] = screenshot_block(records, self.options.reuse)
        if self.caption:
            m["ablation"] = self._ablation(m, rows, records)
        return m

    def _ablation(self, m: dict[str, Any], rows: list[dict], records: list[Record]) -> dict[str, Any]:
        out: dict[str, Any] = {"direct_source": "this run"}
        direct = m
        if self.options.direct_samples:
            out["direct_source"] = self.options.direct_samples
            drows = self._rows(records, "direct_")
            out["direct_missing"] = sum(not any(f"direct_{k}" in r.outputs for k in DIRECT_KEYS) for r in records)
            direct = self._blocks(drows, "")
        for key, label in (("preference", "sampled"), ("preference_p_yes", "choice")):
            if key in direct and f"caption_{key}" in m:
                out[label] = vm.compare_modes(direct[key], m[f"caption_{key}"])
        if not self.options.direct_samples and any("interested" in r for r in rows):
            out["item_agreement"] = vm.agreement([(r.get("interested"), r.get("caption_interested")) for r in rows],
                                                 [r["cluster"] for r in rows])
        return out

    def artifacts(self, records: list[Record], out_dir: Path) -> list[str]:
        from vbench.tasks.value_spectrum.radar import radar_chart

        m = self.metrics(records)
        labels = {"preference": "direct: yes (sampled)", "preference_p_yes": "direct: P(yes)",
                  "caption_preference": "caption→answer: yes (sampled)", "caption_preference_p_yes": "caption→answer: P(yes)"}
        series = {label: vm.value_means(m[key]) for key, label in labels.items() if key in m}
        if not any(series.values()):
            return []
        out_dir.mkdir(parents=True, exist_ok=True)
        radar_chart(series, self.values.names + [v for s in series.values() for v in s if v not in self.values.names],
                    out_dir / "radar.png", title=f"{self.name}: preference per Schwartz value")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["value", "code", "score", "scoring", "ci_low", "ci_high", "n", "std_keywords"])
        codes = {v.name: v.code for v in self.values.values}
        for key in labels:
            for value, b in m.get(key, {}).get("values", {}).items():
                s = b["score"]
                w.writerow([value, codes.get(value, ""), s["value"], key, s["ci_low"], s["ci_high"], s["n"], b["std_keywords"]])
        atomic_write_text(out_dir / "values.csv", buf.getvalue())
        return ["radar.png", "values.csv"]

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any]):
        detailed = set()  # per-value rows for the first block of each mode; totals for all
        for mode in ("", "caption_"):
            detailed.update([k for k in (f"{mode}preference", f"{mode}preference_p_yes") if k in metrics][:1])
        for key in ("preference", "preference_p_yes", "caption_preference", "caption_preference_p_yes"):
            block = metrics.get(key)
            if not block:
                continue
            yield f"{key} (all)", block["overall"]
            if key in detailed:
                for value, b in block["values"].items():
                    yield f"{key}: {value}", b["score"]
            yield f"{key}: std across values", {"value": block["std_across_values"]}
        for key in ("parse_rate", "caption_parse_rate"):
            if key in metrics:
                yield key, metrics[key]
        for label in ("sampled", "choice"):
            comp = metrics.get("ablation", {}).get(label)
            if comp:
                yield f"ablation {label}: spearman(direct, caption)", comp["spearman"]


def read_direct_samples(path: str) -> list[Record]:
    """Records of an earlier direct-mode run (its samples.jsonl); a clear error for anything else."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "samples.jsonl"
    if not p.is_file():
        raise UsageError(f"--task_args direct_samples: {p} not found (give a direct run's samples.jsonl)")
    records = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = Record.model_validate(json.loads(line))
        except ValueError:
            raise UsageError(f"{p}:{n} is not a vbench record") from None
        if rec.status == "ok" and rec.task == ValueSpectrum.name:
            records.append(rec)
    if not any("interested" in r.outputs or "p_yes" in r.outputs for r in records):
        raise UsageError(f"{p} holds no direct-mode value_spectrum answers")
    return records
