"""The vLLM runner on a real engine (vLLM's CPU build in CI): the failures it must keep per request, the
ones that must stop the run with one line, argument checking, shutdown, and full option scoring."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.vllm_suite.conftest import ENGINE_ARGS, ROOT, cli, model_args, need_engine, rate
from vbench.errors import UsageError
from vbench.runners.factory import build_runner
from vbench.types import GenParams, ImagePart, Message, Request

pytestmark = pytest.mark.slow


def test_vllms_cpu_platform_is_accepted():
    need_engine()  # vLLM's own platform detection found a device: here, its CPU build
    from vbench.runners.vllm_engine import platform_kind, unavailable_reason

    assert unavailable_reason() is None and platform_kind() in ("cpu", "gpu")


def test_a_rejected_prompt_fails_only_its_own_request(vllm_runner, vimages):
    too_long = Request(messages=(Message.user("yes " * 1500),), gen=GenParams(max_tokens=4))
    too_many = Request(messages=(Message.user(*(ImagePart(image=h) for h in vimages), "rate"),), gen=GenParams(max_tokens=4))
    reqs = [rate(vimages[0]), too_long, too_many, rate(vimages[1], kind="choose"), rate(vimages[2])]
    out = vllm_runner.run(reqs)
    assert [r.ok for r in out] == [True, False, False, True, True]
    assert "maximum context length" in out[1].error and "image" in out[2].error
    assert out[0].text and out[4].usage["completion_tokens"] >= 1


def test_seeded_sampling_survives_a_batch_larger_than_one_engine_step(vllm_runner, vimages):
    """More prompt tokens than one step takes (2048): vLLM's CPU worker must not split a seeded prompt."""
    long_text = "describe the person in the picture and rate them " * 40  # ~400 tokens each
    reqs = [Request(messages=(Message.user(ImagePart(image=vimages[i % 3]), f"{i} {long_text}"),),
                    gen=GenParams(max_tokens=4, temperature=0.9, top_p=0.95, seed=i)) for i in range(8)]
    first = vllm_runner.run(reqs)
    assert all(r.ok for r in first), [r.error for r in first if not r.ok]
    again = vllm_runner.run(reqs[::-1])[::-1]  # same seeds, other order: same samples
    assert [r.text for r in again] == [r.text for r in first]


def test_choose_gives_every_option_its_probability(vllm_runner, vimages):
    [resp] = vllm_runner.run([rate(vimages[0], kind="choose")])
    assert resp.method == "logprobs" and sorted(resp.probs) == list("1234567")
    assert sum(resp.probs.values()) == pytest.approx(1.0)
    assert min(resp.probs.values()) > 0.01  # scored, not left at zero because it missed a top-k list
    assert 0 < resp.option_mass <= 1
    words = Request(kind="choose", messages=(Message.user(ImagePart(image=vimages[1]), "accept or reject?"),),
                    options=("accept", "reject", "make a counter offer"))
    [w] = vllm_runner.run([words])
    assert all(p > 0 for p in w.probs.values())  # multi-token options get their whole continuation scored


def test_answers_do_not_depend_on_batch_company(vllm_runner, vimages):
    alone = vllm_runner.run([rate(vimages[1], seed=5), rate(vimages[1], kind="choose")])
    mixed = vllm_runner.run([rate(vimages[0]), rate(vimages[1], seed=5), rate(vimages[2], kind="choose"),
                             rate(vimages[1], kind="choose")])
    assert alone[0].text == mixed[1].text
    assert alone[1].probs == pytest.approx(mixed[3].probs, abs=1e-4)


def test_unknown_engine_arguments_are_caught_before_loading(vllm_model):
    with pytest.raises(UsageError, match="no engine argument 'swap_space'"):
        build_runner("vllm", f"pretrained={vllm_model},swap_space=4")
    runner = build_runner("vllm", f"pretrained={vllm_model},enable_prefix_caching=false,max_num_batched_tokens=2048")
    assert not runner.engine_started  # accepted, nothing loaded yet


def test_fingerprint_ignores_placement_but_not_the_model(vllm_model):
    from vbench.runners.vllm import VLLMArgs, VLLMRunner

    a = VLLMRunner(VLLMArgs(pretrained=str(vllm_model)))
    b = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), tensor_parallel_size=8, gpu_memory_utilization=0.5))
    c = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), dtype="float16"))
    sync = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), engine="sync"))
    asy = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), engine="async"))
    assert a.fingerprint == b.fingerprint == sync.fingerprint == asy.fingerprint != c.fingerprint  # engine: placement
    assert asy.native_async and not sync.native_async  # a blocking engine is served through run()
    assert VLLMRunner.choice_scoring == "full-continuation-logprobs"


@pytest.fixture(scope="module")
def avatars_small(tmp_path_factory) -> Path:
    from vbench.data.synthetic import build_synthetic_avatars

    return build_synthetic_avatars(tmp_path_factory.mktemp("data") / "avatars", n=4, seed=0)


def test_a_start_failure_is_one_line_naming_the_setting(vllm_model, avatars_small, tmp_path):
    """The default gpu_memory_utilization=0.9 asks for 90% of RAM on a CPU: exit 2, no traceback."""
    from vbench.runners.vllm_engine import platform_kind

    if platform_kind() != "cpu":
        pytest.skip("provokes the CPU engine's memory check; a GPU has the memory the default asks for")
    env = {k: v for k, v in os.environ.items() if k != "VLLM_CPU_KVCACHE_SPACE"}
    args = f"pretrained={vllm_model},max_model_len=1024,enforce_eager=true,dtype=float32"
    out = subprocess.run([sys.executable, "-m", "vbench", "eval", "--model", "vllm", "--model_args", args,
                          "--tasks", "aggressiveness_rating", "--dataset", str(avatars_small), "--limit", "1",
                          "--output_path", str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, check=False,
                         env={**env, "PYTHONPATH": str(ROOT), "VBENCH_CACHE": str(tmp_path / "c")}, timeout=900)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("vbench: error:") and "gpu_memory_utilization" in last and "VLLM_CPU_KVCACHE_SPACE" in last
    assert "Traceback" not in out.stderr and not list((tmp_path / "out").rglob("results.json"))


def test_an_engine_failure_stops_the_run_with_one_line(avatars_small, tmp_path):
    """head_dim 16 has no CPU attention kernel: the engine fails on the first batch; not n per-request errors."""
    need_engine()
    from vbench.testing.tiny_models import build_tiny_qwen2vl

    model = build_tiny_qwen2vl(tmp_path / "hd16")  # head_dim 16
    out = cli("eval", "--model", "vllm", "--model_args", model_args(model), "--tasks", "aggressiveness_rating",
              "--dataset", str(avatars_small), "--limit", "2", "--output_path", str(tmp_path / "out"),
              cwd=tmp_path, env={"VBENCH_CACHE": str(tmp_path / "c")})
    if "head_dim" not in out.stderr and out.returncode == 0:
        pytest.skip("this vLLM build serves head_dim 16 (a GPU): no engine failure to provoke")
    assert out.returncode == 1, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("vbench: error: vllm engine failed") and "head_dim=16" in last
    assert "Traceback" not in out.stderr and not list((tmp_path / "out").rglob("results.json"))


CLOSE_SCRIPT = textwrap.dedent("""
    import json, sys
    import psutil
    from vbench.images import ImageStore
    from vbench.runners.vllm import VLLMArgs, VLLMRunner
    from vbench.types import GenParams, Message, Request

    if __name__ == "__main__":
        runner = VLLMRunner(VLLMArgs(**json.loads(sys.argv[1])), store=ImageStore(sys.argv[2]))
        [resp] = runner.run([Request(messages=(Message.user("hello"),), gen=GenParams(max_tokens=2, seed=0))])
        during = len([p for p in psutil.Process().children(recursive=True) if p.name().startswith("VLLM")])
        runner.close()
        after = [p.name() for p in psutil.Process().children(recursive=True)
                 if p.name().startswith("VLLM") and p.status() != psutil.STATUS_ZOMBIE]
        print("CLOSE", json.dumps({"ok": resp.ok, "during": during, "after": after}), flush=True)
""")


def test_close_shuts_the_engine_core_down(vllm_model, tmp_path):
    """The asynchronous engine (its core always in its own process): no engine process left after close(),
    nothing leaked."""
    script = tmp_path / "close_check.py"
    script.write_text(CLOSE_SCRIPT)
    args = json.dumps({"pretrained": str(vllm_model), "engine": "async", **ENGINE_ARGS})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    out = subprocess.run([sys.executable, str(script), args, str(tmp_path / "store")], env=env, capture_output=True,
                         text=True, timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    [line] = [ln for ln in out.stdout.splitlines() if ln.startswith("CLOSE ")]
    report = json.loads(line[6:])
    assert report["ok"] and report["during"] >= 1  # the engine core ran in its own process
    assert report["after"] == []
    assert "leaked shared_memory" not in out.stderr and "force killing" not in out.stderr
