"""value_spectrum task: episode turns (direct, follow-ups, caption ablation) and the metrics."""
from __future__ import annotations

import numpy as np
import pytest

from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.tasks.base import Sample, TaskContext
from vbench.tasks.value_spectrum import metrics as vm
from vbench.tasks.value_spectrum.task import PROMPTS, Options, ValueSpectrum, spread
from vbench.types import Record, Response


def test_parse_yes_no():
    assert vm.parse_yes_no("Yes.") == 1 and vm.parse_yes_no("no") == 0 and vm.parse_yes_no("NO!") == 0
    assert vm.parse_yes_no("Hmm, no. Well, yes") == 0  # the first one counts
    assert vm.parse_yes_no("yesterday was nice") is None and vm.parse_yes_no("") is None and vm.parse_yes_no(None) is None


def _rows():
    return [
        {"value": "A", "keyword": "a1", "platform": "tiktok", "s": 1}, {"value": "A", "keyword": "a1", "platform": "youtube", "s": 1},
        {"value": "A", "keyword": "a2", "platform": "tiktok", "s": 0}, {"value": "A", "keyword": "a2", "platform": "tiktok", "s": 1},
        {"value": "A", "keyword": "a2", "platform": "tiktok", "s": None},  # parse failure: left out
        {"value": "B", "keyword": "b1", "platform": "youtube", "s": 0}, {"value": "B", "keyword": "b1", "platform": "tiktok", "s": 0},
        {"value": "B", "keyword": "b1", "platform": "youtube", "s": 1},
    ]


def test_preference_block_numbers():
    b = vm.preference_block(_rows(), "s", order=["B", "A"])
    assert list(b["values"]) == ["B", "A"]  # the value set's order
    a = b["values"]["A"]
    assert a["score"]["value"] == pytest.approx(0.75) and a["n"] == 4 and a["n_keywords"] == 2
    assert a["keywords"] == {"a1": 1.0, "a2": 0.5} and a["std_keywords"] == pytest.approx(0.25)
    assert b["values"]["B"]["score"]["value"] == pytest.approx(1 / 3) and b["values"]["B"]["std_keywords"] is None
    assert a["score"]["ci_low"] <= 0.75 <= a["score"]["ci_high"]
    assert b["overall"]["value"] == pytest.approx(4 / 7) and b["overall"]["n"] == 7
    assert b["std_across_values"] == pytest.approx(np.std([0.75, 1 / 3]))
    assert b["ranking"] == ["A", "B"]
    assert b["platforms"]["tiktok"]["values"] == {"B": 0.0, "A": pytest.approx(2 / 3)}
    assert b["platforms"]["youtube"]["score"]["value"] == pytest.approx(2 / 3)


def test_compare_modes_and_agreement():
    def block(scores):
        return vm.preference_block([{"value": v, "keyword": "k", "s": s} for v, s in scores.items()], "s")

    direct, caption = block({"A": 0.75, "B": 0.25, "C": 0.5}), block({"A": 0.5, "B": 0.25, "C": 0.9})
    c = vm.compare_modes(direct, caption)
    assert c["diff"] == {"A": pytest.approx(-0.25), "B": 0.0, "C": pytest.approx(0.4)}
    assert c["spearman"]["value"] == pytest.approx(0.5) and c["mean_abs_diff"] == pytest.approx(0.65 / 3)
    assert c["direct_ranking"] == ["A", "C", "B"] and c["caption_ranking"] == ["C", "A", "B"]
    assert vm.agreement([(1, 1), (1, 0), (None, 1), (0, 0)])["value"] == pytest.approx(2 / 3)


def test_spread_covers_every_value():
    samples = [Sample(id=f"{v}{i}", meta={"value": v}) for v in "ABC" for i in range(4)]
    assert [s.id for s in spread(samples, 5)] == ["A0", "B0", "C0", "A1", "B1"]
    assert spread(samples, None) == samples


def _task(tmp_path, **opts):
    return ValueSpectrum(Options(**opts), TaskContext(store=ImageStore(tmp_path / "store")))


def test_episode_ablation_with_followups(tmp_path):
    task = _task(tmp_path, mode="ablation", followups=True)
    sample = Sample(id="s", meta={"image": "ab" * 32, "value": "Hedonism"})
    gen = task.episode(sample, 0, 1)
    step1 = next(gen)
    assert [(r.kind, r.role) for r in step1] == [("generate", "default"), ("choose", "default"), ("generate", "captioner")]
    system, user = step1[0].messages
    assert system.text == PROMPTS["profiles"]["released"]["system"] and user.images == ["ab" * 32]
    assert "is this content interesting?" in user.text and step1[1].options == ("yes", "no")
    assert step1[2].messages[0].images == ["ab" * 32]
    step2 = gen.send([Response(text="Yes!"), Response(probs={"yes": 0.8, "no": 0.2}, method="logprobs"),
                      Response(text=" A beach at sunset. ")])
    assert [(r.kind, r.role) for r in step2] == [("generate", "answerer"), ("choose", "answerer"), ("generate", "default")]
    answerer_user = step2[0].messages[-1]
    assert '"A beach at sunset."' in answerer_user.text and answerer_user.images == []
    conv = step2[2].messages
    assert [m.role for m in conv] == ["system", "user", "assistant", "user"]
    assert conv[2].text == "Yes!" and conv[3].text == PROMPTS["followups"][0]
    step3 = gen.send([Response(text="no"), Response(probs={"yes": 0.3, "no": 0.7}), Response(text="The colours.")])
    assert len(step3) == 1 and step3[0].messages[-2].text == "The colours."
    assert step3[0].messages[-1].text == PROMPTS["followups"][1]
    with pytest.raises(StopIteration) as stop:
        gen.send([Response(text="A beach.")])
    out = stop.value.value
    assert out["interested"] == 1 and out["p_yes"] == 0.8 and out["parse_ok"] is True
    assert out["caption"] == "A beach at sunset." and out["caption_interested"] == 0 and out["caption_p_yes"] == 0.3
    assert [f["answer"] for f in out["followups"]] == ["The colours.", "A beach."]


def test_episode_choice_only_direct(tmp_path):
    gen = _task(tmp_path, scoring="choice").episode(Sample(id="s", meta={"image": "cd" * 32}), 0, 1)
    (req,) = next(gen)
    assert req.kind == "choose"
    with pytest.raises(StopIteration) as stop:
        gen.send([Response(probs={"yes": 0.1, "no": 0.9})])
    assert stop.value.value == {"p_yes": 0.1, "choice_method": None, "option_mass": None}


def test_options_are_checked(tmp_path):
    with pytest.raises(UsageError, match="profile"):
        _task(tmp_path, profile="nope")
    with pytest.raises(UsageError, match="mode=caption"):
        _task(tmp_path, direct_samples="x.jsonl")
    assert set(ValueSpectrum.roles) == {"default", "captioner", "answerer"}
    # the value set's version is part of the prompt-set hash
    a = _task(tmp_path).prompt_set_hash()
    f = tmp_path / "v.yaml"
    f.write_text("version: other\nvalues:\n- {name: A, code: A, definition: d, keywords: [cat]}\n")
    assert _task(tmp_path, values=str(f)).prompt_set_hash() != a


def test_metrics_from_records(tmp_path):
    task = _task(tmp_path, mode="ablation")
    recs = []
    for i, (v, d, c) in enumerate([("Power", 1, 0), ("Power", 1, 1), ("Hedonism", 0, 0), ("Hedonism", 1, None)]):
        recs.append(Record(task="value_spectrum", episode_id=str(i), index=i,
                           sample={"value": v, "keyword": "k", "platform": None},
                           outputs={"interested": d, "parse_ok": True, "p_yes": 0.6, "caption_interested": c,
                                    "caption_parse_ok": c is not None, "caption_p_yes": 0.4}))
    m = task.metrics(recs)
    assert list(m["preference"]["values"]) == ["Power", "Hedonism"]  # Schwartz order
    assert m["preference"]["values"]["Hedonism"]["score"]["value"] == 0.5
    assert m["caption_parse_rate"]["value"] == 0.75 and "platforms" not in m["preference"]
    assert m["ablation"]["sampled"]["diff"] == {"Power": -0.5, "Hedonism": -0.5}
    assert m["ablation"]["choice"]["diff"]["Power"] == pytest.approx(-0.2)
    assert m["ablation"]["item_agreement"]["value"] == pytest.approx(2 / 3)
    files = task.artifacts(recs, tmp_path / "out")
    assert files == ["radar.png", "values.csv"]
    assert (tmp_path / "out" / "radar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Power,POW,1.0,preference" in (tmp_path / "out" / "values.csv").read_text()
    rows = dict(ValueSpectrum.summary_rows(m))
    assert rows["preference: Power"]["value"] == 1.0 and "ablation sampled: spearman(direct, caption)" in rows
