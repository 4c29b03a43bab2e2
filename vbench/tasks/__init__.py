"""Tasks: one package each (task.py, prompts.yaml, metrics), registered in vbench.registry.builtins."""
