"""Concurrent simulated raters against a running rating app: every acknowledged rating must be stored.

Each rater thread keeps one HTTP/1.1 connection and loops ``GET /api/next`` → ``POST /api/rate`` until
the deadline (after its last image it keeps re-rating random items: every event is stored).
"""
from __future__ import annotations

import http.client
import json
import random
import threading
import time
from urllib.parse import quote, urlsplit

from pydantic import BaseModel


class LoadResult(BaseModel):
    raters: int
    duration_s: float
    requests: int
    acknowledged: int
    refused: int
    transport_errors: int
    acked_ids: list[int] = []

    @property
    def ratings_per_s(self) -> float:
        return self.acknowledged / self.duration_s if self.duration_s else 0.0


class _Client:
    def __init__(self, base_url: str, timeout: float = 30.0):
        parts = urlsplit(base_url)
        if not parts.hostname:
            raise ValueError(f"not an http://host:port URL: {base_url!r}")
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, json.loads(payload or b"{}")


def run_load(base_url: str, raters: list[str], duration_s: float, items: list[str], seed: int = 0) -> LoadResult:
    """Run ``len(raters)`` concurrent raters (given by their link keys) for ``duration_s`` seconds; returns
    what the server acknowledged."""
    lock = threading.Lock()
    totals = {"requests": 0, "refused": 0, "errors": 0}
    acked: list[int] = []
    start = threading.Event()
    deadline = [0.0]

    def worker(rater: str, rng: random.Random) -> None:
        client = _Client(base_url)
        mine, counts = [], {"requests": 0, "refused": 0, "errors": 0}
        start.wait()
        while time.perf_counter() < deadline[0]:
            try:
                status, nxt = client.call("GET", f"/api/next?key={quote(rater)}")
                item = nxt.get("item") if status == 200 and not nxt.get("done") else rng.choice(items)
                status, res = client.call("POST", "/api/rate", {"key": rater, "item": item,
                                                                "rating": rng.randint(1, 7),
                                                                "shown_at": nxt.get("shown_at")})
                counts["requests"] += 2
                if status == 201:
                    mine.append(int(res["id"]))
                else:
                    counts["refused"] += 1
            except (OSError, http.client.HTTPException, ValueError):
                counts["errors"] += 1
        with lock:
            acked.extend(mine)
            for k, v in counts.items():
                totals[k] += v

    threads = [threading.Thread(target=worker, args=(r, random.Random(f"{seed}/{r}")), daemon=True) for r in raters]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + duration_s
    start.set()
    for t in threads:
        t.join()
    return LoadResult(raters=len(raters), duration_s=time.perf_counter() - t0, requests=totals["requests"],
                      acknowledged=len(acked), refused=totals["refused"], transport_errors=totals["errors"],
                      acked_ids=sorted(acked))
