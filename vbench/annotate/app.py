"""The rating web app (Flask): a start page, one image at a time with a 1–7 scale, JSON endpoints.

Each rater has a personal link ``/r/KEY`` whose key is an unguessable secret (``vbench annotate``
prints the links); a rater id alone rates nothing. Pages: ``/`` (paste your key), ``/r/KEY`` (next
image; POST stores a rating and shows the next), ``/image/<item>``. JSON: ``GET /api/next?key=KEY``,
``POST /api/rate`` ({key, item, rating, shown_at, client_ms}), ``GET /api/status``.

Safety: only the allowed Host names are answered (Flask ``TRUSTED_HOSTS``, against DNS rebinding);
a POST from another origin (``Origin``/``Referer``/``Sec-Fetch-Site``) is refused (CSRF); ratings are
whole numbers 1–7 only. A bad rating, an unknown key or item is refused with one clear message
(400/403/404) and nothing is stored; every acknowledged rating is committed.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, render_template, request, url_for
from pydantic import ValidationError

from vbench.annotate.items import ItemSet
from vbench.annotate.store import Rating, RatingStore, UnknownRater

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _explain(exc: ValidationError, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "input"
    if field == "rating":
        return f"rating must be a whole number from 1 to 7 (got {raw.get('rating')!r})"
    if err["type"] == "missing":
        return f"{field} is missing"
    return f"{field}: {err['msg']}"


def _same_origin(url: str) -> bool:
    return urlsplit(url).netloc == request.host


def create_app(items: ItemSet, store: RatingStore, title: str = "Rate the characters",
               allowed_hosts: list[str] | tuple[str, ...] = LOCAL_HOSTS) -> Flask:
    app = Flask(__name__)
    app.config["TRUSTED_HOSTS"] = list(allowed_hosts)  # any other Host header: 400 (DNS rebinding)
    salt = store.meta("salt") or ""

    def unknown_key() -> Refused:
        return Refused(403, "unknown rater link: open the personal link the study lead gave you")

    def rater_of(key: str) -> str:
        rater = store.rater_for_key(key)
        if rater is None:
            raise unknown_key()
        return rater

    @app.before_request
    def refuse_cross_origin():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        referer = request.headers.get("Referer")
        if (site and site not in ("same-origin", "none")) or (origin and not _same_origin(origin)) or (
                not origin and referer and not _same_origin(referer)):
            return jsonify(error="cross-origin request refused"), 403
        return None

    def next_item(rater: str):
        rated = store.rated_items(rater)
        return items.next_for(rater, salt, rated, store.checks_done(rater)), len(rated)

    def submit(key: str, raw: dict[str, Any]) -> int:
        rater = rater_of(key)
        clean = {k: v for k, v in raw.items() if v not in ("", None) and k != "key"}
        try:
            rating = Rating.model_validate({**clean, "rater": rater})
        except ValidationError as exc:
            raise Refused(400, _explain(exc, raw)) from None
        item = items.get(rating.item)
        if item is None:
            raise Refused(404, f"unknown item {rating.item!r}")
        try:
            return store.add(rating, is_check=item.is_check, expected=item.expected)
        except UnknownRater:
            raise unknown_key() from None

    def page(key: str, error: str | None = None, status: int = 200):
        rater = store.rater_for_key(key)
        if rater is None:
            return render_template("start.html", title=title, error=unknown_key().message), 403
        item, rated = next_item(rater)
        if item is None:
            return render_template("done.html", title=title, rater=rater, rated=rated, total=len(items)), status
        return render_template("rate.html", title=title, rater=rater, key=key, item=item, rated=rated,
                               total=len(items), shown_at=f"{time.time():.3f}", error=error), status

    @app.get("/")
    def start():
        return render_template("start.html", title=title, error=None)

    @app.get("/rate")
    def rate_start():
        key = (request.args.get("key") or "").strip()
        if not key:
            return render_template("start.html", title=title, error="paste the key of your personal link"), 400
        return redirect(url_for("rate_page", key=key), code=303)

    @app.get("/r/<key>")
    def rate_page(key: str):
        return page(key)

    @app.post("/r/<key>")
    def rate_post(key: str):
        try:
            submit(key, request.form.to_dict())
        except Refused as exc:
            return page(key, exc.message, exc.status)
        return redirect(url_for("rate_page", key=key), code=303)

    @app.get("/image/<key>")
    def image(key: str):
        if items.get(key) is None:
            return jsonify(error=f"unknown item {key!r}"), 404
        data, mime = items.image(key)
        return app.response_class(data, mimetype=mime, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/next")
    def api_next():
        rater = store.rater_for_key(request.args.get("key", ""))
        if rater is None:
            return jsonify(error=unknown_key().message), 403
        item, rated = next_item(rater)
        if item is None:
            return jsonify(done=True, rated=rated, total=len(items))
        return jsonify(done=False, item=item.key, image=url_for("image", key=item.key), shown_at=time.time(),
                       rated=rated, total=len(items))

    @app.post("/api/rate")
    def api_rate():
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            return jsonify(error="expected a JSON object {key, item, rating}"), 400
        try:
            rid = submit(str(raw.get("key") or ""), raw)
        except Refused as exc:
            return jsonify(error=exc.message), exc.status
        return jsonify(ok=True, id=rid), 201

    @app.get("/api/status")
    def api_status():
        return jsonify(ratings=store.count(), raters=len(store.raters()), items=len(items))

    return app
