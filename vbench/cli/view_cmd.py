"""`vbench view [RUN_DIR ...]`: browse runs in a local web app, or `--export DIR` them as a static site."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vbench.errors import UsageError

DEFAULT_PORT = 8765


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="browse runs: conversations, persona images, extracted outcomes",
                       description="Serve a local viewer (127.0.0.1) for runs, or export them as a static site.")
    p.add_argument("runs", nargs="*", type=Path, default=[Path("results")], metavar="RUN_DIR",
                   help="run folders, or folders holding runs (e.g. demo/results); default: results")
    p.add_argument("--port", type=int, default=None,
                   help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one when that is taken; 0: any free port)")
    p.add_argument("--images", type=Path, default=None,
                   help="image store to read (default: the one each run names, else $VBENCH_CACHE/images)")
    p.add_argument("--export", type=Path, default=None, metavar="DIR",
                   help="write a self-contained static site to DIR instead of serving")
    p.add_argument("--open", action="store_true", help="open the viewer in the default browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vbench.view.runs import find_runs

    if args.port is not None and not 0 <= args.port < 65536:
        raise UsageError("--port must be between 0 (any free port) and 65535")
    if args.images is not None and not args.images.is_dir():
        raise UsageError(f"--images {args.images}: no such folder")
    runs = find_runs(args.runs, args.images)
    if args.export is not None:
        from vbench.view.export import export

        counts = export(runs, args.export)
        miss = f", {counts['missing_images']} missing (placeholder shown)" if counts["missing_images"] else ""
        print(f"exported {counts['runs']} run(s), {counts['episodes']} episodes, {counts['images']} images{miss} "
              f"to {args.export}/index.html")
        return 0
    return _serve(runs, args.port, args.open)


def _serve(runs, port: int | None, open_browser: bool) -> int:
    from vbench.view.server import make_server, site_url
    from vbench.view.site import Site

    site = Site(runs)
    try:
        server = make_server(site, DEFAULT_PORT if port is None else port)
    except UsageError:
        if port is not None:
            raise
        server = make_server(site, 0)  # the default port is taken: any free one
    for run_id in site.runs:
        site.build_in_background(run_id)
    url = site_url(server)
    print(f"vbench view: {len(runs)} run(s) at {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("vbench view: stopped", file=sys.stderr)
    return 0
