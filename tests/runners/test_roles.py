"""Two model roles served by two different backends in one run (a toy proposer/responder task)."""
from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.runners.conftest import NEEDS_AIOHTTP, answered

from vbench.cli.main import main
from vbench.registry import TASKS
from vbench.tasks.base import Sample, Task, TaskOptions, stable_hash
from vbench.tasks.common import load_image_samples
from vbench.types import ImagePart, Message, Record, Request

pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
from vbench.testing.api_server import Answer, Prompt  # noqa: E402

OFFER = "I offer you $40 of $100."


class Duel(Task):
    """Proposer sees the image and makes an offer; responder accepts or rejects it."""

    name = "duel_test"
    version = "0"
    roles = ("proposer", "responder")
    Options = TaskOptions

    def prompt_set(self) -> dict[str, Any]:
        return {"proposer": "Make an offer.", "responder": "Accept or reject?"}

    def samples(self) -> list[Sample]:
        samples, _ = load_image_samples(self.ctx.dataset, self.ctx.store, limit=self.ctx.limit)
        return samples

    def dataset_fingerprint(self) -> str:
        return stable_hash([s.meta for s in self.samples()])

    def episode(self, sample: Sample, repeat: int, seed: int):
        [offer] = yield [Request(role="proposer", messages=(
            Message.user(ImagePart(image=sample.meta["image"]), "Make an offer."),))]
        [answer] = yield [Request(role="responder", kind="choose", options=("accept", "reject"), messages=(
            Message.user(f"The other player says: {offer.text} Accept or reject?"),))]
        return {"offer": offer.text, "p_accept": answer.probs["accept"]}

    def metrics(self, records: list[Record]) -> dict[str, Any]:
        return {"n": len(records)}


@pytest.fixture
def duel_task():
    TASKS.register(Duel.name, Duel, "toy two-role task (test only)")
    yield Duel.name
    del TASKS._entries[Duel.name]


def responder_brain(p: Prompt) -> Answer:
    return Answer(text="accept", top_logprobs=[("accept", math.log(0.6)), ("Reject", math.log(0.3)), ("I", math.log(0.1))])


def test_two_backends_serve_two_roles(server, avatars, tmp_path, isolated_cache, duel_task, capsys):
    srv = server(brain=responder_brain)
    code = main(["eval", "--model", "dummy", "--model_args", f"reply={OFFER}",
                 "--model-role", f"responder=openai:model=judge,base_url={srv.openai_url}",
                 "--tasks", duel_task, "--dataset", str(avatars), "--limit", "5", "--output_path", str(tmp_path),
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    [folder] = [p for p in tmp_path.rglob("duel_test") if p.is_dir()]
    results = json.loads((folder / "results.json").read_text())
    assert results["model"]["backend"] == "dummy" and results["roles"]["responder"]["backend"] == "openai"
    assert results["counts"]["n_ok"] == 5 and results["counts"]["scheduler_steps"] == 2  # one step per turn
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    for rec in records:
        proposer, responder = rec["turns"]
        assert proposer["role"] == "proposer" and proposer["response"] == OFFER  # the dummy backend
        assert responder["role"] == "responder" and responder["method"] == "logprobs"  # the API backend
        assert rec["outputs"]["p_accept"] == pytest.approx(0.6 / 0.9)
    # only the responder's requests went to the server, each one carrying the proposer's offer
    assert len(answered(srv)) == 5 and all(OFFER in e.prompt.text and not e.prompt.images for e in srv.events)
    assert {e.prompt.model for e in srv.events} == {"judge"}


def test_unknown_role_is_a_usage_error(avatars, tmp_path, isolated_cache, duel_task, capsys):
    code = main(["eval", "--model", "dummy", "--model-role", "referee=dummy", "--tasks", duel_task,
                 "--dataset", str(avatars), "--output_path", str(tmp_path)])
    assert code == 2 and "no role 'referee'" in capsys.readouterr().err
