"""Registries for tasks, models (backends + zoo aliases) and metrics."""
from vbench.registry.core import Entry, Registry, UnknownNameError
from vbench.registry.builtins import METRICS, MODELS, TASKS

__all__ = ["Entry", "Registry", "UnknownNameError", "TASKS", "MODELS", "METRICS"]
