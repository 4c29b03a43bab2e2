"""`vbench view` on bad input (one line, exit 2) and the pages it serves, without a browser."""
from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

from tests.view.conftest import INJECTED, rewrite
from vbench.cli.main import main
from vbench.view.runs import find_runs
from vbench.view.server import make_server, site_url
from vbench.view.site import CSP, Site
from vbench.view.views import OLD_SCHEMA_NOTE


@contextmanager
def served(*folders):
    site = Site(find_runs(list(folders)))
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site, site_url(server).rstrip("/")
    finally:
        server.shutdown()
        server.server_close()


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def one_line_error(capsys, code, args):
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_not_a_run_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert "holds no vbench run" in one_line_error(capsys, 2, ["view", str(tmp_path / "empty"), "--export", str(tmp_path / "s")])
    assert "is not a folder" in one_line_error(capsys, 2, ["view", str(tmp_path / "nope")])
    assert not (tmp_path / "s").exists()


def test_port_in_use_is_one_line(runs, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        err = one_line_error(capsys, 2, ["view", str(runs["ultimatum_pair"]), "--port", str(port)])
    assert f"port {port}" in err and "in use" in err
    assert "--port" in one_line_error(capsys, 2, ["view", str(runs["ultimatum_pair"]), "--port", "70000"])


def test_export_refuses_a_foreign_folder(runs, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    err = one_line_error(capsys, 2, ["view", str(runs["ultimatum_pair"]), "--export", str(tmp_path / "mine")])
    assert "not a vbench view export" in err and (tmp_path / "mine" / "thesis.tex").exists()


def test_export_writes_a_self_contained_site(runs, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["view", str(runs["ultimatum_pair"]), str(runs["aggressiveness_rating"]), "--export", str(out)]) == 0
    assert "exported 2 run(s)" in capsys.readouterr().out
    pages = list(out.glob("*.html"))
    n_eps = sum(len((runs[t] / "samples.jsonl").read_text().splitlines()) for t in ("ultimatum_pair", "aggressiveness_rating"))
    assert len([p for p in pages if re.search(r"-e\d+\.html$", p.name)]) == n_eps
    for page in pages:
        text = page.read_text()
        meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text)
        assert meta and html.unescape(meta.group(1)) == CSP  # the policy travels with every page
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):  # every link stays inside the site
            assert not ref.startswith(("http:", "https:", "/", "//")), ref
            assert (out / ref.split("?")[0]).exists(), ref
    assert main(["view", str(runs["ultimatum_pair"]), "--export", str(out)]) == 0  # an earlier export is replaced
    assert len(list(out.glob("*-p1.html"))) == 1


def test_missing_image_gets_a_placeholder(copy_run, tmp_path, capsys):
    folder = copy_run("ultimatum_pair")
    (tmp_path / "empty-store").mkdir()
    (folder / "image_store.json").write_text(json.dumps({"images": str(tmp_path / "empty-store")}))
    assert main(["view", str(folder), "--export", str(tmp_path / "site")]) == 0
    assert "missing (placeholder shown)" in capsys.readouterr().out
    page = next((tmp_path / "site").glob("*-p1.html")).read_text()
    assert 'src="missing.svg"' in page and "img/" not in page
    with served(folder) as (site, base):
        digest = json.loads((folder / "samples.jsonl").read_text().splitlines()[0])["sample"]["a"]["image"]
        status, headers, body = fetch(f"{base}/thumb/{next(iter(site.runs))}/{digest}")
        assert status == 200 and headers["Content-Type"] == "image/svg+xml" and b"image missing" in body


def test_older_schema_is_shown_with_what_is_missing(copy_run):
    folder = copy_run("ultimatum_solo")

    def old(rec):
        rec.pop("messages")
        for t in rec["turns"]:
            t.pop("messages")
        return rec

    rewrite(folder / "samples.jsonl", old)
    (folder / "results.json").unlink()
    (folder / "image_store.json").unlink()
    with served(folder) as (site, base):
        rid = next(iter(site.runs))
        _, _, home = fetch(base + "/")
        assert b"no results.json" in home and b"does not name its image store" in home
        status, _, page = fetch(f"{base}/run/{rid}/ep/0")
        assert status == 200 and OLD_SCHEMA_NOTE.encode() in page and b"bubble" in page


def test_pages_escape_model_text_and_send_the_policy(copy_run):
    folder = copy_run("ultimatum_pair")

    def inject(rec):
        rec["turns"][0]["response"] = INJECTED
        rec["outputs"]["transcript"]["turns"][0]["text"] = INJECTED
        rec["episode_id"] = rec["episode_id"] + INJECTED
        return rec

    rewrite(folder / "samples.jsonl", inject)
    with served(folder) as (site, base):
        rid = next(iter(site.runs))
        for path in (f"/run/{rid}", f"/run/{rid}/ep/0", f"/run/{rid}?q=script"):
            status, headers, body = fetch(base + path)
            assert status == 200 and headers["Content-Security-Policy"] == CSP
            assert b"<script>window" not in body and b"<img src=x" not in body  # (tojson writes \u003c)
            assert b"&lt;script&gt;window.__pwned" in body
        assert fetch(f"{base}/run/{rid}/ep/999")[0] == 404
        assert fetch(f"{base}/static/../../etc/passwd")[0] == 404
        assert fetch(f"{base}/img/{rid}/{'0' * 64}")[0] == 200  # unknown image: the placeholder


def test_quickstart_style_serve_does_not_block_and_stops(runs):
    proc = subprocess.Popen([sys.executable, "-m", "vbench", "view", str(runs["aggressiveness_rating"]), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", line).group(1)
        status, _, body = fetch(url)
        assert status == 200 and b"aggressiveness_rating" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_only_local_host_names_are_answered(runs):
    with served(runs["ultimatum_solo"]) as (site, base):
        port = base.rsplit(":", 1)[1]
        req = urllib.request.Request(base + "/", headers={"Host": f"evil.example:{port}"})
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("a foreign Host was answered")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        assert fetch(base + "/")[0] == 200 and fetch(f"http://localhost:{port}/")[0] == 200


def test_round_focuses_the_dialogue_and_flag_filters(runs):
    folder = runs["ultimatum_pair"]
    games = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    with served(folder) as (site, base):
        rid = next(iter(site.runs))
        site.indexes[rid].build()
        _, _, body = fetch(f"{base}/run/{rid}?round=3")
        assert body.count(b'class="round"') == len(games) and b"round 3" in body and b"round 1 " not in body
        want = sum(any(o["round"] == 3 and o["accepted"] is False for o in g["outputs"]["transcript"]["outcomes"])
                   for g in games)
        _, _, body = fetch(f"{base}/run/{rid}?round=3&flag=reject")
        assert body.count(b'class="card game"') == want
