"""Every built-in task, backend and metric, registered by import path (nothing heavy is imported here)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vbench.registry.core import Registry

if TYPE_CHECKING:
    from vbench.tasks.base import Task

TASKS: Registry[type[Task[Any]]] = Registry("task", entry_point_group="vbench.tasks")
MODELS: Registry = Registry("model", entry_point_group="vbench.models")
METRICS: Registry = Registry("metric")

# --- tasks (one line each) ---
TASKS.register("aggressiveness_rating", "vbench.tasks.aggressiveness_rating.task:AggressivenessRating",
               "Rate how aggressive a persona image looks, 1-7 (Kiss up, Kick down A1)")
TASKS.register("ultimatum_solo", "vbench.tasks.ultimatum.solo:UltimatumSolo",
               "Ultimatum game vs a fixed confederate with a visual persona (Kiss up, Kick down Study 1)")
TASKS.register("ultimatum_pair", "vbench.tasks.ultimatum.pair:UltimatumPair",
               "Ultimatum game between two visual personas (Kiss up, Kick down Study 2)")
TASKS.register("value_spectrum", "vbench.tasks.value_spectrum.task:ValueSpectrum",
               "Preference for Schwartz values over short-video screenshots, yes/no (Value-Spectrum B1)")
TASKS.register("isq_induction", "vbench.tasks.isq_induction.task:IsqInduction",
               "Persona induction in a simulated short-video feed: plain/simple/ISQ, I_avg (Value-Spectrum B2)")

# --- backends ---
# ``needs``: what a backend asks of the machine (shown by `vbench ls models`): extra, gpu, key (env variable).
MODELS.register("hf", "vbench.runners.hf:HFRunner",
                "Local VLM with transformers (AutoModelForImageTextToText), padded batches",
                needs={"extra": "hf", "gpu": "recommended"})
MODELS.register("dummy", "vbench.runners.dummy:DummyRunner",
                "Deterministic pseudo-random answers, no model: for checking pipelines and metrics", needs={})
MODELS.register("vllm", "vbench.runners.vllm:VLLMRunner", "Local VLM with vLLM on CUDA GPUs (tensor/data parallel)",
                needs={"extra": "vllm", "gpu": "required"})
MODELS.register("openai", "vbench.runners.openai_api:OpenAIRunner",
                "OpenAI or any OpenAI-compatible server (vllm serve, ...), async with retries",
                needs={"extra": "api", "key": "OPENAI_API_KEY"})
MODELS.register("anthropic", "vbench.runners.anthropic_api:AnthropicRunner", "Anthropic messages API, async with retries",
                needs={"extra": "api", "key": "ANTHROPIC_API_KEY"})
MODELS.register("gemini", "vbench.runners.gemini_api:GeminiRunner", "Google Gemini API, async with retries",
                needs={"extra": "api", "key": "GEMINI_API_KEY"})

# --- model zoo: short names for a backend + model id + default args (vbench/registry/zoo.yaml) ---
from vbench.registry.zoo import register_zoo  # noqa: E402

register_zoo(MODELS)

# --- metrics ---
from vbench.analysis import metric_registry as _metric_registry  # noqa: E402  (registers into METRICS)

_metric_registry.register_all(METRICS)
