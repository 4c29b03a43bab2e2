"""Publish the value split: a Hub-layout folder (parquet + card) and, optionally, a Hub push.

The folder is exactly what the Hub receives: ``data/train-00000-of-00001.parquet`` (images embedded),
``README.md`` (datasets_card/value-spectrum.md with its generated section filled from this copy),
``abundance.csv/png`` and the ``schwartz.yaml`` the keywords came from. `vbench eval --dataset FOLDER`
reads it back.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from vbench.data.corpus import store
from vbench.data.schwartz import load_schwartz
from vbench.errors import UsageError

START, END = "<!-- vbench:generated -->", "<!-- /vbench:generated -->"
CARD = "value-spectrum.md"
_FALLBACK = f"---\nlicense: other\npretty_name: Value-Spectrum screenshot split (vbench)\ntags: [vbench]\n---\n" \
            f"# Value-Spectrum screenshot split (vbench)\n\n{START}\n{END}\n"


def card_template() -> str:
    """datasets_card/value-spectrum.md of a source checkout (a wheel falls back to a minimal card)."""
    path = Path(__file__).resolve().parents[3] / "datasets_card" / CARD
    return path.read_text(encoding="utf-8") if path.is_file() else _FALLBACK


def _size_category(n: int) -> str:
    bins = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    return next((label for limit, label in bins if n < limit), "1M<n<10M")


def generated_section(split, meta: dict, values_yaml: dict | None, abundance: dict | None) -> str:
    rows = split.select_columns(["value", "keyword", "distance", "platform"]).to_list()
    by_value: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_value[r["value"]].append(r)
    s = meta.get("split", {})
    cal = (abundance or {}).get("calibrated") or {}
    cal_r = f"{cal['radius']:.3f}" if "radius" in cal else "–"
    lines = [f"This copy holds **{len(rows):,}** screenshots drawn from a corpus of **{meta['n']:,}** items "
             f"(CLIP `{meta['clip_model']}`, {meta['dim']}-d, faiss `{meta['index_type']}` index; "
             f"keyword set version `{meta.get('schwartz_version')}`; top-{s.get('top_k')} per keyword; "
             f"text template `{s.get('text_template')}`).", "",
             "| value | rows | keywords | mean distance | abundance (paper radius "
             f"{(abundance or {}).get('radius', s.get('radius'))}) | abundance (calibrated radius {cal_r}) |",
             "|---|---|---|---|---|---|"]
    for value, items in by_value.items():
        kws = list(dict.fromkeys(r["keyword"] for r in items))
        dist = statistics.fmean(r["distance"] for r in items)
        ab = (abundance or {}).get("values", {}).get(value, "–")
        lines.append(f"| {value} | {len(items)} | {', '.join(kws)} | {dist:.3f} | {ab} | "
                     f"{cal.get('values', {}).get(value, '–')} |")
    platforms = Counter(r["platform"] for r in rows if r["platform"])
    if platforms:
        lines += ["", "Platforms: " + ", ".join(f"{p} {c}" for p, c in platforms.most_common()) + "."]
    if values_yaml:
        lines += ["", "Value definitions used:", ""]
        lines += [f"- **{v['name']}** ({v['code']}): {v['definition']}" for v in values_yaml["values"]]
    return "\n".join(lines)


def render_card(split, meta: dict, values_yaml: dict | None, abundance: dict | None) -> str:
    text = card_template()
    text = re.sub(r"(size_categories:\n- ).*", lambda m: m.group(1) + _size_category(len(split)), text, count=1)
    body = f"{START}\n{generated_section(split, meta, values_yaml, abundance)}\n{END}"
    if START in text and END in text:
        return text[:text.index(START)] + body + text[text.index(END) + len(END):]
    return text.rstrip() + "\n\n" + body + "\n"


def export_split(corpus_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the Hub-layout folder for the corpus's split (default ``CORPUS/publish``), atomically."""
    import datasets

    corpus = Path(corpus_path).expanduser()
    meta = store.read_meta(corpus).model_dump(mode="json")
    if not (corpus / store.SPLIT).is_dir():
        raise UsageError(f"{corpus} has no split yet; run `vbench data build-split --corpus {corpus}` first")
    out = Path(out_dir).expanduser() if out_dir else corpus / "publish"
    if out.exists() and not (out / "README.md").exists() and any(out.iterdir()):
        raise UsageError(f"--out {out} exists and is not a published split; choose a new folder")
    split = datasets.load_from_disk(str(corpus / store.SPLIT))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmp, 0o755)
    try:
        (tmp / "data").mkdir()
        split.to_parquet(str(tmp / "data" / "train-00000-of-00001.parquet"))
        values_file = (meta.get("split") or {}).get("values_file")
        values = load_schwartz(values_file)
        values_yaml = values.model_dump(mode="json")
        (tmp / "schwartz.yaml").write_text(yaml.safe_dump(values_yaml, sort_keys=False, allow_unicode=True),
                                           encoding="utf-8")
        abundance = None
        if (corpus / "abundance.json").exists():
            abundance = json.loads((corpus / "abundance.json").read_text(encoding="utf-8"))
            for name in ("abundance.csv", "abundance.png"):
                if (corpus / name).exists():
                    shutil.copy(corpus / name, tmp / name)
        (tmp / "README.md").write_text(render_card(split, meta, values_yaml, abundance), encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def push_folder(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload a published folder to a Hub dataset repo (token from HF_TOKEN / `hf auth login`)."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                 commit_message="vbench value-spectrum split")
    except Exception as exc:  # offline, no token, no permission
        raise UsageError(f"cannot push to {repo_id} ({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}); "
                         f"the folder {folder} is ready to upload by other means") from None
    return str(getattr(info, "commit_url", info))
