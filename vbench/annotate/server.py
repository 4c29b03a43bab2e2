"""Starting the rating app: bind the database to the dataset, register raters, serve on loopback."""
from __future__ import annotations

import ipaddress
import logging
import threading
from pathlib import Path

from werkzeug.serving import make_server

from vbench.annotate.items import ItemSet
from vbench.annotate.store import RatingStore
from vbench.errors import UsageError

log = logging.getLogger(__name__)


def parse_raters(text: str | None) -> list[str]:
    """``a,b,c``; an element ``@FILE`` adds the ids in FILE (one per line)."""
    out: list[str] = []
    for part in (p.strip() for p in (text or "").split(",")):
        if part.startswith("@"):
            path = Path(part[1:]).expanduser()
            if not path.is_file():
                raise UsageError(f"--raters: file not found: {path}")
            out += [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
        elif part:
            out.append(part)
    return out


def open_session(dataset: str, db: str | Path, raters: list[str] | None = None, *, check_every: int = 10,
                 id_column: str | None = None) -> tuple[ItemSet, RatingStore]:
    """The dataset's items and its rating store (refuses a store of another dataset, or no raters at all)."""
    items = ItemSet(dataset, id_column=id_column, check_every=check_every)
    store = RatingStore(db)
    store.bind(items.fingerprint, dataset)
    if raters:
        store.add_raters(raters)
    if not store.raters():
        raise UsageError("no raters registered: pass --raters ID[,ID...] or --raters @FILE")
    return items, store


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class ServerThread:
    """The app on a werkzeug threaded server in a background thread (tests, benchmarks); port 0 = any free."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="annotate-server", daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def allowed_hosts(host: str, extra: list[str] | None = None) -> list[str]:
    """Host names the app answers: loopback, the bound address (unless a wildcard) and any given."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(host)
    return names + [h for h in (extra or []) if h not in names]


def link_lines(store: RatingStore, base_url: str) -> list[str]:
    """One personal link per rater: the key in it is the rater's only credential."""
    return [f"  {rater}: {base_url}/r/{key}" for rater, key in store.links().items()]


def serve(app, host: str = "127.0.0.1", port: int = 5000, store: RatingStore | None = None) -> None:
    """Serve until Ctrl-C (threaded: each rater's request is handled on its own thread)."""
    if not is_loopback(host):
        log.warning("serving on %s: anyone who holds a rater link and can reach this address can submit ratings",
                    host)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per rating
    server = make_server(host, port, app, threaded=True)
    base = f"http://{host}:{server.server_port}"
    print(f"rating app on {base}/ (Ctrl-C to stop); send each rater their own link:", flush=True)
    if store is not None:
        print("\n".join(link_lines(store, base)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped; every acknowledged rating is stored", flush=True)
    finally:
        server.server_close()
