"""`vbench ls tasks|models|metrics`: what can be run, with what it needs."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vbench.registry import METRICS, MODELS, TASKS
from vbench.registry.core import Entry


def add_parser(sub) -> None:
    p = sub.add_parser("ls", help="list registered tasks, models or metrics")
    p.add_argument("what", choices=["tasks", "models", "metrics"])
    p.set_defaults(func=run)


def needs_text(entry: Entry) -> str:
    """'extra [api], API key OPENAI_API_KEY' / 'extra [vllm], CUDA GPU' / 'nothing'."""
    zoo = entry.extra.get("zoo")
    needs: dict[str, Any] = MODELS.entry(zoo["backend"]).extra.get("needs", {}) if zoo else entry.extra.get("needs", {})
    parts = []
    if needs.get("extra"):
        parts.append(f"pip extra [{needs['extra']}]")
    if needs.get("gpu") == "required":
        parts.append("CUDA GPU")
    elif needs.get("gpu"):
        parts.append("GPU recommended")
    if needs.get("key"):
        parts.append(f"API key in ${needs['key']}")
    return ", ".join(parts) or "nothing"


def task_details(entry: Entry) -> tuple[str, str, str]:
    """Default dataset, roles and options (with defaults) of a task class."""
    from vbench.images import ImageStore
    from vbench.tasks.base import TaskContext

    cls = entry.load()
    options = ", ".join(f"{name}={field.default!r}" if field.default is not None else f"{name}"
                        for name, field in cls.Options.model_fields.items())
    dataset = "none: --dataset required"
    try:
        task = cls(cls.Options(), TaskContext(store=ImageStore("/nonexistent-vbench-store")))
        dataset = str(getattr(task, "dataset_spec", None) or getattr(task, "corpus_spec", None) or dataset)
    except Exception:  # listing must not fail on one task's constructor
        pass
    return dataset, ", ".join(cls.roles), options


def run(args) -> int:
    console = Console(width=200)
    if args.what == "tasks":
        table = Table(title="tasks", show_lines=True)
        for col in ("name", "description", "default dataset", "roles", "options (--task_args, defaults)"):
            table.add_column(col)
        for entry in TASKS.entries():
            dataset, roles, options = task_details(entry)
            table.add_row(entry.name, escape(entry.description), escape(dataset), roles, escape(options))
        console.print(table)
        return 0
    registry = {"models": MODELS, "metrics": METRICS}[args.what]
    table = Table(title=args.what, show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("aliases")
    table.add_column("description")
    if args.what == "models":
        table.add_column("needs")
    for entry in registry.entries():
        zoo = entry.extra.get("zoo")
        if zoo:
            model_id = zoo["args"].get("pretrained") or zoo["args"].get("model") or ""
            desc = entry.description + escape(f"  [{zoo['backend']}: {model_id}]")
        else:
            desc = entry.description
        row = [entry.name, ", ".join(entry.aliases), desc]
        if args.what == "models":
            row.append(escape(needs_text(entry)))
        table.add_row(*row)
    console.print(table)
    return 0
