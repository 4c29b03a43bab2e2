"""The rating web app (Flask): a start page, one image at a time with a 1–7 scale, JSON endpoints.

Pages: ``/`` (rater id), ``/rate?rater=ID`` (next image; POST stores a rating and shows the next),
``/image/<key>``. JSON: ``GET /api/next?rater=ID``, ``POST /api/rate`` ({rater, item, rating, shown_at,
client_ms}), ``GET /api/status``. A bad rating, an unknown rater or item is refused with one clear
message (400/403/404) and nothing is stored; every acknowledged rating is committed.
"""
from __future__ import annotations

import time
from typing import Any

from flask import Flask, jsonify, redirect, render_template, request, url_for
from pydantic import ValidationError

from vbench.annotate.items import ItemSet
from vbench.annotate.store import Rating, RatingStore, UnknownRater


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


def create_app(items: ItemSet, store: RatingStore, title: str = "Rate the characters") -> Flask:
    app = Flask(__name__)
    salt = store.meta("salt") or ""

    def unknown_rater(rater: str) -> Refused:
        return Refused(403, f"unknown rater {rater!r}: ask the study lead to add you (vbench annotate --raters ID)")

    def next_item(rater: str):
        rated = store.rated_items(rater)
        return items.next_for(rater, salt, rated, store.checks_done(rater)), len(rated)

    def submit(raw: dict[str, Any]) -> int:
        clean = {k: v for k, v in raw.items() if v not in ("", None)}
        try:
            rating = Rating.model_validate(clean)
        except ValidationError as exc:
            raise Refused(400, _explain(exc, raw)) from None
        item = items.get(rating.item)
        if item is None:
            raise Refused(404, f"unknown item {rating.item!r}")
        try:
            return store.add(rating, is_check=item.is_check, expected=item.expected)
        except UnknownRater:
            raise unknown_rater(rating.rater) from None

    def page(rater: str, error: str | None = None, status: int = 200):
        if not store.is_rater(rater):
            return render_template("start.html", title=title, rater=rater, error=unknown_rater(rater).message), 403
        item, rated = next_item(rater)
        if item is None:
            return render_template("done.html", title=title, rater=rater, rated=rated, total=len(items)), status
        return render_template("rate.html", title=title, rater=rater, item=item, rated=rated, total=len(items),
                               shown_at=f"{time.time():.3f}", error=error), status

    @app.get("/")
    def start():
        return render_template("start.html", title=title, rater=None, error=None)

    @app.get("/rate")
    def rate_page():
        rater = (request.args.get("rater") or "").strip()
        if not rater:
            return render_template("start.html", title=title, rater=None, error="enter your rater id"), 400
        return page(rater)

    @app.post("/rate")
    def rate_post():
        raw = request.form.to_dict()
        try:
            submit(raw)
        except Refused as exc:
            return page(raw.get("rater", ""), exc.message, exc.status)
        return redirect(url_for("rate_page", rater=raw["rater"]), code=303)

    @app.get("/image/<key>")
    def image(key: str):
        if items.get(key) is None:
            return jsonify(error=f"unknown item {key!r}"), 404
        data, mime = items.image(key)
        return app.response_class(data, mimetype=mime, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/next")
    def api_next():
        rater = request.args.get("rater", "")
        if not store.is_rater(rater):
            return jsonify(error=unknown_rater(rater).message), 403
        item, rated = next_item(rater)
        if item is None:
            return jsonify(done=True, rated=rated, total=len(items))
        return jsonify(done=False, item=item.key, image=url_for("image", key=item.key), shown_at=time.time(),
                       rated=rated, total=len(items))

    @app.post("/api/rate")
    def api_rate():
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            return jsonify(error="expected a JSON object {rater, item, rating}"), 400
        try:
            rid = submit(raw)
        except Refused as exc:
            return jsonify(error=exc.message), exc.status
        return jsonify(ok=True, id=rid), 201

    @app.get("/api/status")
    def api_status():
        return jsonify(ratings=store.count(), raters=len(store.raters()), items=len(items))

    return app
