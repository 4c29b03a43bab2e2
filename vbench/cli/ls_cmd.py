"""`vbench ls tasks|models|metrics`."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vbench.registry import METRICS, MODELS, TASKS


def add_parser(sub) -> None:
    p = sub.add_parser("ls", help="list registered tasks, models or metrics")
    p.add_argument("what", choices=["tasks", "models", "metrics"])
    p.set_defaults(func=run)


def run(args) -> int:
    registry = {"tasks": TASKS, "models": MODELS, "metrics": METRICS}[args.what]
    table = Table(title=args.what, show_lines=False)
    table.add_column("name", style="bold")
    table.add_column("aliases")
    table.add_column("description")
    for entry in registry.entries():
        zoo = entry.extra.get("zoo")
        if zoo:
            model_id = zoo["args"].get("pretrained") or zoo["args"].get("model") or ""
            desc = entry.description + escape(f"  [{zoo['backend']}: {model_id}]")
        else:
            desc = entry.description
        table.add_row(entry.name, ", ".join(entry.aliases), desc)
    Console(width=160).print(table)
    return 0
