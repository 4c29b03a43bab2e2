"""The local viewer: a stdlib ThreadingHTTPServer on 127.0.0.1 that renders pages from the runs' indexes.

Read-only (GET only); every page carries the Content-Security-Policy header; nothing is fetched from
anywhere but this server.
"""
from __future__ import annotations

import errno
import http.server
import re
import sys
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from vbench.errors import UsageError
from vbench.leaderboard.render import FAVICON
from vbench.view.index import Query
from vbench.view.site import CSP, Site
from vbench.view.thumbs import FULL, THUMB, jpeg

STATIC = {"view.css": "text/css; charset=utf-8", "view.js": "text/javascript; charset=utf-8", "favicon.svg": "image/svg+xml",
          "missing.svg": "image/svg+xml"}
ARTIFACTS = {"isq_curves.png": "image/png", "radar.png": "image/png"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_FIELDS = ("errors", "parse", "level", "value", "round", "flag", "q", "sort")


PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120"><rect width="120" height="120" fil'
    'l="#eceff4"/><path d="M30 84l22-28 16 20 10-12 14 20z" fill="#c6ccd7"/><circle cx="82" cy="40" r'
    '="9" fill="#c6ccd7"/><text x="60" y="108" font-family="sans-serif" font-size="11" text-anchor="m'
    'iddle" fill="#7a8394">image missing</text></svg>'
)


def static_bytes(name: str) -> bytes:
    """The viewer's own files (the SVGs live here: package data ships only .css/.js/.html)."""
    if name == "missing.svg":
        return PLACEHOLDER.encode()
    if name == "favicon.svg":
        return FAVICON.encode()
    return resources.files("vbench.view").joinpath("static").joinpath(name).read_bytes()


def query_of(qs: str) -> Query:
    raw = {k: v[-1] for k, v in parse_qs(qs).items() if v}
    given: dict[str, Any] = {k: raw[k][:200] for k in _FIELDS if k in raw}
    q = Query(**given)
    try:
        q.page = max(1, min(10**7, int(raw.get("page", "1"))))
    except ValueError:
        q.page = 1
    return q


def make_handler(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    routes: list[tuple[re.Pattern, Callable]] = []

    def route(pattern: str):
        def deco(fn):
            routes.append((re.compile(pattern + "$"), fn))
            return fn
        return deco

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "vbench-view"

        def log_message(self, *args) -> None:  # quiet: the terminal shows the URL, not every request
            pass

        def send(self, body: bytes, ctype: str, status: int = 200, cache: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            if cache:
                self.send_header("Cache-Control", "max-age=86400")
            self.end_headers()
            self.wfile.write(body)

        def html(self, text: str | None) -> None:
            if text is None:
                self.send(b"not found", "text/plain; charset=utf-8", 404)
            else:
                self.send(text.encode("utf-8"), "text/html; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if host not in LOCAL_HOSTS:  # a page elsewhere that re-points its name at 127.0.0.1 reads nothing
                self.send(b"forbidden host", "text/plain; charset=utf-8", 403)
                return
            url = urlparse(self.path)
            for pattern, fn in routes:
                m = pattern.match(url.path)
                if m:
                    try:
                        fn(self, url.query, *m.groups())
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    except Exception as exc:  # a page that cannot render is one line, never a dead server
                        msg = f"vbench view: cannot render {url.path}: {exc.__class__.__name__}: {exc}"
                        print(msg, file=sys.stderr)
                        self.send(msg.encode(), "text/plain; charset=utf-8", 500)
                    return
            self.send(b"not found", "text/plain; charset=utf-8", 404)

    def run_or_404(h: Handler, rid: str):
        run = site.runs.get(rid)
        if run is None:
            h.send(b"no such run", "text/plain; charset=utf-8", 404)
        return run

    @route(r"/")
    def home(h: Handler, qs: str) -> None:
        h.html(site.runs_page())

    @route(r"/run/([0-9a-f]+)")
    def samples(h: Handler, qs: str, rid: str) -> None:
        run = run_or_404(h, rid)
        if run:
            h.html(site.samples_page(run, query_of(qs)))

    @route(r"/run/([0-9a-f]+)/ep/(\d+)")
    def episode(h: Handler, qs: str, rid: str, ord_: str) -> None:
        run = run_or_404(h, rid)
        if run:
            h.html(site.episode_page(run, int(ord_)))

    @route(r"/compare/([0-9a-f]+)/([0-9a-f]+)")
    def compare(h: Handler, qs: str, a: str, b: str) -> None:
        ra, rb = run_or_404(h, a), site.runs.get(b)
        if ra and rb:
            h.html(site.compare_page(ra, rb, query_of(qs).page))
        elif ra:
            h.send(b"no such run", "text/plain; charset=utf-8", 404)

    def image(h: Handler, rid: str, digest: str, size: int) -> None:
        run = run_or_404(h, rid)
        if run:
            data = jpeg(str(run.images), digest, size)
            if data is None:
                h.send(static_bytes("missing.svg"), STATIC["missing.svg"])
            else:
                h.send(data, "image/jpeg", cache=True)

    route(r"/thumb/([0-9a-f]+)/([0-9a-f]{64})")(lambda h, qs, rid, d: image(h, rid, d, THUMB))
    route(r"/img/([0-9a-f]+)/([0-9a-f]{64})")(lambda h, qs, rid, d: image(h, rid, d, FULL))

    @route(r"/artifact/([0-9a-f]+)/([a-z_]+\.png)")
    def artifact(h: Handler, qs: str, rid: str, name: str) -> None:
        run = run_or_404(h, rid)
        if run and name in ARTIFACTS and (run.path / name).is_file():
            h.send((run.path / name).read_bytes(), ARTIFACTS[name])
        elif run:
            h.send(b"not found", "text/plain; charset=utf-8", 404)

    @route(r"/static/([a-z.]+)")
    def static(h: Handler, qs: str, name: str) -> None:
        if name in STATIC:
            h.send(static_bytes(name), STATIC[name], cache=False)
        else:
            h.send(b"not found", "text/plain; charset=utf-8", 404)

    return Handler


def make_server(site: Site, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """Bind now (so a port in use is one clear error before anything else happens)."""
    try:
        server = http.server.ThreadingHTTPServer((host, port), make_handler(site))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UsageError(f"port {port} on {host} is in use or not allowed; pick another with --port") from None
        raise
    server.daemon_threads = True
    return server


def site_url(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # an IP host (the server binds AF_INET/AF_INET6, never a bytes path)
    return f"http://{host}:{port}/"


