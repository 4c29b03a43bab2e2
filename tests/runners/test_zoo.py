"""The model zoo: every entry is valid for its backends, and --backend reruns an alias elsewhere."""
from __future__ import annotations

import pytest

from vbench.args import validate_args
from vbench.errors import UsageError
from vbench.registry import MODELS
from vbench.registry.zoo import load_zoo, register_zoo
from vbench.registry.core import Registry
from vbench.runners.factory import resolve_model

ZOO = load_zoo()


def test_zoo_names_the_expected_families():
    assert {"qwen-vl", "llava", "internvl", "gpt-4o", "claude-sonnet", "gemini-flash"} <= set(ZOO.models)
    assert ZOO.models["qwen-vl"].backend == "vllm"
    assert ZOO.models["qwen-vl"].args["pretrained"] == "Qwen/Qwen2.5-VL-7B-Instruct"


@pytest.mark.parametrize("name", sorted(ZOO.models))
def test_every_entry_validates_against_its_backends(name):
    entry = ZOO.models[name]
    for backend, args in [(entry.backend, entry.args), *entry.backends.items()]:
        cls = MODELS.get(backend)
        validate_args(cls.Args, args, f"zoo {name} ({backend})")  # raises on an unknown or bad key
    assert MODELS.entry(name).extra["zoo"]["backend"] == entry.backend


def test_open_models_can_fall_back_to_hf():
    for name, entry in ZOO.models.items():
        if entry.backend == "vllm":
            assert "hf" in entry.backends, f"{name} offers no --backend hf"


def test_resolution_merges_user_args_over_defaults(monkeypatch):
    from vbench.runners import vllm as vr

    monkeypatch.setattr(vr, "unavailable_reason", lambda: None)  # where vLLM can run (else: hf fallback)
    assert resolve_model("qwen-vl", "max_model_len=2048") == (
        "vllm", {"pretrained": "Qwen/Qwen2.5-VL-7B-Instruct", "max_model_len": "2048"})
    backend, args = resolve_model("qwen-vl", "dtype=float32", backend="hf")
    assert backend == "hf" and args == {"pretrained": "Qwen/Qwen2.5-VL-7B-Instruct", "dtype": "float32"}
    assert resolve_model("qwen-vl", None, backend="vllm")[0] == "vllm"  # its own backend: no-op
    with pytest.raises(UsageError, match="runs on: anthropic"):
        resolve_model("claude-sonnet", None, backend="hf")
    assert resolve_model("claude-sonnet", None, backend="hf", strict=False)[0] == "anthropic"


def test_bad_zoo_file_is_rejected():
    with pytest.raises(ValueError):
        load_zoo("version: 1\nmodels:\n  x: {backend: vllm, args: {}, colour: red, description: d}\n")
    reg = Registry("model")
    reg.register("vllm", "vbench.runners.vllm:VLLMRunner")
    register_zoo(reg, load_zoo("version: 1\nmodels:\n  tiny: {backend: vllm, description: d, aliases: [t]}\n"))
    assert reg.resolve("t") == "tiny" and reg.entry("tiny").extra["zoo"]["backend"] == "vllm"


def test_backend_hf_runs_a_zoo_alias_with_transformers(tiny_llava, avatars, tmp_path, isolated_cache):
    from vbench.evaluator import evaluate

    res = evaluate(model="llava", backend="hf", model_args=f"pretrained={tiny_llava},dtype=float32,device=cpu",
                   tasks="aggressiveness_rating", dataset=str(avatars), limit=2, output_path=tmp_path,
                   show_progress=False)["aggressiveness_rating"]
    assert res.model.name == "llava" and res.model.backend == "hf" and res.counts.n_ok == 2
