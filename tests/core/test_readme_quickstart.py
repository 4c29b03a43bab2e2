"""The README's quickstart runs as written (so it cannot rot)."""
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.readme import readme_commands

ROOT = Path(__file__).resolve().parents[2]


def test_readme_starts_with_setup_and_test_commands():
    first = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    for line in first.splitlines():
        cmd = line.split("#", 1)[0].strip()
        assert cmd and cmd in ci  # CI runs exactly the README's two commands


def serve_and_fetch(cmd: list[str], cwd: Path, env: dict) -> str:
    """`vbench view` serves until stopped: run it as written, read the page it serves, then stop it."""
    proc = subprocess.Popen([sys.executable, "-m", "vbench", *cmd[1:]], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, f"{' '.join(cmd)}: {line}{proc.stderr.read() if proc.poll() is not None else ''}"
        with urllib.request.urlopen(url.group(0), timeout=60) as page:
            return page.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_quickstart_runs_end_to_end(tmp_path):
    commands = readme_commands("## Quickstart")
    assert commands and all(c[0] == "vbench" for c in commands)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VBENCH_CACHE": str(tmp_path / "cache")}
    viewed = None
    for cmd in commands:
        if cmd[1] == "view" and "--export" not in cmd:
            viewed = serve_and_fetch(cmd, tmp_path, env)
            continue
        proc = subprocess.run([sys.executable, "-m", "vbench", *cmd[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-2000:]}"
    results = list(tmp_path.glob("demo/results/*/*/results.json"))
    assert {p.parent.name for p in results} == {"aggressiveness_rating", "ultimatum_solo", "ultimatum_pair",
                                                  "value_spectrum", "isq_induction"}
    for path in results:
        res = json.loads(path.read_text())
        assert res["counts"]["n_ok"] > 0 and res["counts"]["n_error"] == 0
        assert (path.parent / "samples.jsonl").exists()
    assert "vbench results" in proc.stdout  # the summary table
    assert (tmp_path / "demo/results/demo_tiny-llava/value_spectrum/radar.png").exists()
    assert commands[-1][:2] == ["vbench", "view"] and viewed is not None  # the quickstart ends in the viewer
    for task in ("aggressiveness_rating", "ultimatum_solo", "ultimatum_pair", "value_spectrum", "isq_induction"):
        assert f"<td>{task}</td>" in viewed
