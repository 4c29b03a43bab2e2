"""`vbench` entry point: one sub-command module per concern, each adding its own parser."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from vbench.errors import VbenchError
from vbench.registry.core import UnknownNameError
from vbench.version import __version__


def command_modules() -> list[str]:
    """Every ``vbench/cli/*_cmd.py`` defines ``add_parser(subparsers)`` setting ``func(args) -> int``."""
    import vbench.cli as pkg

    return sorted(f"vbench.cli.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if m.name.endswith("_cmd"))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line + exit 2, like every other usage error
        self.exit(2, f"vbench: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vbench", description="Evaluate vision-language models on visual personas and values.")
    parser.add_argument("--version", action="version", version=f"vbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in command_modules():
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=os.environ.get("VBENCH_LOGLEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        hint = " ".join(argv[:4]) + (" ..." if len(argv) > 4 else "")
        print(f"vbench: error: options come after a command; to evaluate a model run `vbench eval {hint}` "
              "(`vbench --help` lists the commands)", file=sys.stderr)
        return 2
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except UnknownNameError as exc:
        print(f"vbench: error: {exc}", file=sys.stderr)
        return 2
    except VbenchError as exc:
        print(f"vbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vbench: interrupted; finished samples are kept, re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
