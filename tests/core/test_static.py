"""Static typing of options and args: every task and runner binds its schema, and mypy sees through it.

``mypy`` on the whole package (zero errors) runs in CI (``.ci/run``, the checks workflow); here mypy runs
on a small snippet that uses vbench's classes, so a misspelt option or arg, or a wrong type, is shown
to be an error mypy reports (and correct uses are shown not to be).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from pydantic import BaseModel

from vbench.generic_params import bound_param
from vbench.registry import MODELS, TASKS
from vbench.runners.base import Runner, RunnerArgs
from vbench.tasks.base import Task, TaskOptions

ROOT = Path(__file__).resolve().parents[2]


def _classes(registry, base: type) -> list[type]:
    out = []
    for entry in registry.entries():
        try:
            obj = entry.load()
        except ImportError:  # an optional backend's module that cannot import here
            continue
        if isinstance(obj, type) and issubclass(obj, base):
            out.append(obj)
    return out


def test_ci_runs_ruff_and_mypy_before_the_tests():
    steps = [line.split("#")[0].strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert steps.index("ruff check .") < steps.index("python -m pytest -q")
    assert steps.index("mypy") < steps.index("python -m pytest -q")
    checks = yaml.safe_load((ROOT / ".github/workflows/checks.yml").read_text())
    assert any(str(s.get("run", "")).strip() == "mypy" for s in checks["jobs"]["mypy"]["steps"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "mypy" in {Requirement(r).name for r in project["project"]["optional-dependencies"]["dev"]}
    cfg = project["tool"]["mypy"]
    assert cfg["plugins"] == ["pydantic.mypy"] and cfg["files"] == ["vbench"]
    assert project["project"]["requires-python"] == f">={cfg['python_version']}"
    assert "ignore_missing_imports" not in cfg  # only per-module overrides


@pytest.mark.parametrize("cls", _classes(TASKS, Task), ids=lambda c: c.__name__)
def test_every_task_binds_its_options(cls):
    bound = bound_param(cls, Task)
    assert bound is not None and bound is not TaskOptions, f"{cls.__name__} is not Task[ItsOptions]"
    assert cls.Options is bound  # what --task_args validates is what the type checker sees


def test_every_backend_binds_its_args():
    runners = _classes(MODELS, Runner)
    assert {"DummyRunner", "HFRunner", "OpenAIRunner"} <= {c.__name__ for c in runners}
    for cls in runners:
        bound = bound_param(cls, Runner)
        assert bound is not None and bound is not RunnerArgs, f"{cls.__name__} is not Runner[ItsArgs]"
        assert cls.Args is bound, f"{cls.__name__}.Args is {cls.Args.__name__}, not its bound {bound.__name__}"


def test_the_parameter_fills_the_schema_and_a_contradicting_schema_is_refused():
    class Opts(TaskOptions):
        scrolls: int = 3

    class Other(BaseModel):
        pass

    class Filled(Task[Opts]):  # no Options ClassVar: the parameter is the schema
        pass

    assert Filled.Options is Opts
    with pytest.raises(TypeError, match="declare the same type"):
        class Contradicting(Task[Opts]):
            Options = Other  # the mistake under test


SNIPPET = '''
from vbench.runners.dummy import DummyArgs, DummyRunner
from vbench.tasks.isq_induction.task import IsqInduction
from vbench.tasks.ultimatum.solo import UltimatumSolo
from vbench.tasks.value_spectrum.task import ValueSpectrum


def task_options(feed: IsqInduction, spectrum: ValueSpectrum, solo: UltimatumSolo) -> None:
    scrolls: int = feed.options.scrolls
    orders: str = solo.options.orders
    profile: str = solo.options.prompt_profile
    feed.options.scrols  # expect: attr-defined
    spectrum.options.scrolls  # expect: attr-defined
    solo.options.ordres  # expect: attr-defined


class MySpectrum(ValueSpectrum):
    def note(self) -> str:
        return self.options.moed  # expect: attr-defined


def runner_args(runner: DummyRunner) -> None:
    reply: str | None = runner.args.reply
    runner.args.replly  # expect: attr-defined
    DummyArgs(replly="x")  # expect: call-arg


def wrong_types(feed: IsqInduction, runner: DummyRunner) -> None:
    name: str = feed.options.scrolls  # expect: assignment
    count: int = runner.args.reply  # expect: assignment
    DummyArgs(vocab=3)  # expect: arg-type
'''


@pytest.mark.slow
def test_mypy_reports_misspelt_options_and_args_and_wrong_types(tmp_path):
    pytest.importorskip("mypy")
    snippet = tmp_path / "uses_vbench.py"
    snippet.write_text(SNIPPET)
    # run from the repository: its [tool.mypy] config and its .mypy_cache (warm after CI's own mypy run)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", str(snippet)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    found = set()
    for line in proc.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): error: .*\[([a-z-]+)\]$", line)
        if m and Path(m.group(1)).name == snippet.name:  # errors of vbench's own modules are not this test's
            found.add((int(m.group(2)), m.group(3)))
    expected = {(n, line.rsplit("# expect: ", 1)[1].strip()) for n, line in enumerate(SNIPPET.splitlines(), 1)
                if "# expect: " in line}
    assert found == expected, proc.stdout[-4000:]
