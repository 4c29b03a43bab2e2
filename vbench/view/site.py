"""Pages shared by the local server and the static export: one renderer, two URL schemes.

HTML comes from Jinja2 templates with autoescaping on; a Content-Security-Policy (meta tag and, when
served, header) lets only the viewer's own script and stylesheet load, so model-written text that
slipped through could still not run.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from vbench.view.index import Query, SampleIndex, head_page
from vbench.view.runs import RunInfo
from vbench.view.views import view_of

PER_PAGE = {"aggressiveness_rating": 48, "value_spectrum": 36, "isq_induction": 6}
DEFAULT_PER_PAGE = 12
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'self'")


def per_page(task: str) -> int:
    return PER_PAGE.get(task, DEFAULT_PER_PAGE)


@dataclass
class Urls:
    """Links for the server (query strings) or the static export (flat file names)."""

    static: bool = False
    missing: set[str] = field(default_factory=set)  # static export: images not in the store

    def home(self) -> str:
        return "index.html" if self.static else "/"

    def run(self, run: RunInfo, q: Query | None = None, **change: Any) -> str:
        q = q or Query()
        if self.static:
            page = int(change.get("page", q.page))
            return f"{run.run_id}-p{page}.html"
        params = q.params(**change)
        return f"/run/{run.run_id}" + (("?" + urlencode(params)) if params else "")

    def episode(self, run: RunInfo, ord_: int) -> str:
        return f"{run.run_id}-e{ord_}.html" if self.static else f"/run/{run.run_id}/ep/{ord_}"

    def compare(self, a: RunInfo, b: RunInfo, page: int = 1) -> str:
        return f"/compare/{a.run_id}/{b.run_id}" + (f"?page={page}" if page > 1 else "")

    def image(self, run: RunInfo, digest: str | None) -> str:
        if not digest or digest in self.missing:
            return self.asset("missing.svg")
        return f"img/{digest}.jpg" if self.static else f"/img/{run.run_id}/{digest}"

    def thumb(self, run: RunInfo, digest: str | None) -> str:
        if not digest or digest in self.missing:
            return self.asset("missing.svg")
        return f"img/{digest}.t.jpg" if self.static else f"/thumb/{run.run_id}/{digest}"

    def asset(self, name: str) -> str:
        return name if self.static else f"/static/{name}"

    def artifact(self, run: RunInfo, name: str) -> str:
        return f"{run.run_id}-{name}" if self.static else f"/artifact/{run.run_id}/{name}"


def _fmt(x: Any, digits: int = 2) -> str:
    if isinstance(x, bool) or x is None:
        return "–" if x is None else ("yes" if x else "no")
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


class Site:
    """Runs, their indexes and the template environment."""

    def __init__(self, runs: list[RunInfo], static: bool = False, index_root: Path | None = None):
        self.runs = {r.run_id: r for r in runs}
        self.urls = Urls(static=static)
        self.static = static
        self.indexes = {r.run_id: SampleIndex(r.samples, r.task, index_root) for r in runs}
        self.env = Environment(loader=PackageLoader("vbench.view", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.env.filters["fmt"] = _fmt
        self.env.globals.update(urls=self.urls, static=static, csp=CSP)
        self._building: set[str] = set()
        self._lock = threading.Lock()

    def build_in_background(self, run_id: str) -> None:
        """Start the index build for a run without making the first page wait for it."""
        idx = self.indexes[run_id]
        with self._lock:
            if idx.ready or run_id in self._building:
                return
            self._building.add(run_id)

        def work() -> None:
            try:
                idx.build()
            finally:
                with self._lock:
                    self._building.discard(run_id)

        threading.Thread(target=work, daemon=True).start()

    # -- pages --------------------------------------------------------------------------------
    def render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(**ctx)

    def runs_page(self) -> str:
        runs = list(self.runs.values())
        pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:] if a.task == b.task]
        return self.render("runs.html", runs=runs, pairs=pairs if not self.static else [])

    def samples_page(self, run: RunInfo, q: Query) -> str:
        idx, n = self.indexes[run.run_id], per_page(run.task)
        indexing = False
        if not idx.ready and q.is_plain() and q.page == 1 and not self.static:
            records, total = head_page(run.samples, n), None  # first page straight from the file
            self.build_in_background(run.run_id)
            indexing = True
        else:
            if run.task == "value_spectrum" and q.sort == "order":
                q = Query(**{**q.__dict__, "sort": "value"})  # screenshots grouped by value and keyword
            total, ords = idx.select(q, n)
            records = idx.records(ords)
        views = [view_of(run.task, r, q.round) for r in records]
        pages = math.ceil(total / n) if total else 1
        facets = idx.facet_values() if idx.ready else {}
        groups = _groups(views) if run.task == "value_spectrum" else None
        artifacts = [a for a in ("isq_curves.png", "radar.png") if (run.path / a).is_file()]
        return self.render("samples.html", run=run, views=views, q=q, total=total, pages=pages, indexing=indexing,
                           facets=facets, groups=groups, artifacts=artifacts, per_page=n,
                           others=[r for r in self.runs.values() if r.task == run.task and r.run_id != run.run_id])

    def episode_page(self, run: RunInfo, ord_: int) -> str | None:
        idx = self.indexes[run.run_id]
        if ord_ < 0 or ord_ >= idx.count():
            return None
        rec = idx.records([ord_])[0]
        from vbench.view.views import turns_view

        return self.render("episode.html", run=run, v=view_of(run.task, rec), turns=turns_view(rec),
                           total=idx.count())

    def compare_page(self, a: RunInfo, b: RunInfo, page: int = 1) -> str:
        ia, ib = self.indexes[a.run_id], self.indexes[b.run_id]
        n = per_page(a.task)
        total, ords = ia.select(Query(page=page), n)
        left = ia.records(ords)
        match = ib.ords_of([str(r.get("episode_id")) for r in left])
        right_recs = {str(r.get("episode_id")): r for r in ib.records(list(match.values()))}
        rows = [(view_of(a.task, r), view_of(b.task, right_recs[str(r.get("episode_id"))])
                 if str(r.get("episode_id")) in right_recs else None) for r in left]
        return self.render("compare.html", a=a, b=b, rows=rows, page=page, pages=math.ceil(total / n) if total else 1,
                           n_shared=len(match))


def _groups(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """value_spectrum: the page's screenshots grouped by value, then keyword."""
    out: dict[str, dict[str, list]] = {}
    for v in views:
        out.setdefault(str(v.get("value") or "–"), {}).setdefault(str(v.get("keyword") or "–"), []).append(v)
    return [{"value": val, "keywords": [{"keyword": k, "cards": items} for k, items in kws.items()]}
            for val, kws in out.items()]
