from tests.leaderboard.conftest import publish
from vbench.cli.main import main
import shutil
def test_mk(site_runs, tmp_path):
    ds = tmp_path / "ds"
    args = publish(site_runs, ds)
    out = "/tmp/board_explore/site2"
    shutil.rmtree(out, ignore_errors=True)
    assert main(["leaderboard", "build", "--from", str(ds), "--out", out, "--include-synthetic", *args]) == 0
    shutil.rmtree("/tmp/board_explore/ds2", ignore_errors=True)
    shutil.copytree(ds, "/tmp/board_explore/ds2")
    import json; print(json.dumps(json.load(open(out + "/report.json"))["rejected"], indent=1)[:3000])
