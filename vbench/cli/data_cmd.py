"""`vbench data ...`: dataset builders and Hub I/O; each ``vbench/cli/data_*.py`` adds its sub-commands."""
from __future__ import annotations

import importlib
import pkgutil


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="build, publish and download vbench datasets")
    data_sub = p.add_subparsers(dest="data_command", required=True, parser_class=type(p))
    import vbench.cli as pkg

    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if m.name.startswith("data_") and m.name != "data_cmd":
            importlib.import_module(f"vbench.cli.{m.name}").add_data_parser(data_sub)
