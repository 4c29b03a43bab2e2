"""Same tiny Qwen2-VL weights through transformers and through vLLM: the same greedy text, and `choose`
distributions within 0.02 total variation (both score every option's full continuation)."""
from __future__ import annotations

import pytest

from tests.vllm_suite.conftest import rate
from vbench.types import GenParams, ImagePart, Message, Request

pytestmark = pytest.mark.slow
TV_LIMIT = 0.02


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p[k] - q[k]) for k in p)


@pytest.fixture(scope="module")
def hf_runner(vllm_model, vstore):
    pytest.importorskip("torchvision", reason="Qwen2-VL's processor needs torchvision")
    from vbench.runners.factory import build_runner

    runner = build_runner("hf", f"pretrained={vllm_model},dtype=float32,device=cpu", store=vstore)
    yield runner
    runner.close()


def _requests(images: list[str]) -> list[Request]:
    two = Request(messages=(Message.user(ImagePart(image=images[0]), ImagePart(image=images[2]),
                                         "which one would you accept as a partner?"),),
                  gen=GenParams(max_tokens=12, temperature=0.0, seed=0))
    choose_words = Request(kind="choose", messages=(Message.user(ImagePart(image=images[1]), "accept or reject?"),),
                           options=("accept", "reject"))
    return [rate(h, max_tokens=12) for h in images] + [two] + [rate(h, kind="choose") for h in images] + [choose_words]


def test_hf_and_vllm_agree_on_greedy_text_and_choice_distributions(hf_runner, vllm_runner, vimages):
    reqs = _requests(vimages)
    hf = hf_runner.run(reqs)
    vl = vllm_runner.run(reqs)
    assert all(r.ok for r in hf + vl), [r.error for r in hf + vl if not r.ok]
    for req, a, b in zip(reqs, hf, vl):
        if req.kind == "generate":
            assert a.text == b.text and a.text  # greedy: token for token
        else:
            assert a.method == b.method == "logprobs"
            assert total_variation(a.probs, b.probs) < TV_LIMIT, (a.probs, b.probs)
            assert b.option_mass == pytest.approx(a.option_mass, rel=0.1)
