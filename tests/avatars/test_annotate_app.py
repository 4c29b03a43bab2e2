"""The rating app through Flask's test client, and the export of ratings into the dataset."""
from __future__ import annotations

import json
import statistics

import pytest

from vbench.annotate.app import create_app
from vbench.annotate.export import export_ratings
from vbench.annotate.server import open_session
from vbench.data.loading import load_rows
from vbench.errors import UsageError


@pytest.fixture
def session(built_avatars, tmp_path):
    items, store = open_session(str(built_avatars), tmp_path / "r.sqlite", ["alice", "bob"], check_every=3)
    yield items, store, create_app(items, store).test_client()
    store.close()


def _rate_all(client, key: str, rating_for) -> list[str]:
    """Rate (through the rater's link key) until done, answering checks correctly; returns the order shown."""
    shown = []
    while True:
        nxt = client.get(f"/api/next?key={key}").get_json()
        if nxt["done"]:
            return shown
        shown.append(nxt["item"])
        value = int(nxt["item"].split("-")[1]) if nxt["item"].startswith("check-") else rating_for(nxt["item"])
        res = client.post("/api/rate", json={"key": key, "item": nxt["item"], "rating": value,
                                             "shown_at": nxt["shown_at"]})
        assert res.status_code == 201, res.get_json()


def test_random_order_checks_and_stored_fields(session):
    items, store, client = session
    links = store.links()
    order_a = _rate_all(client, links["alice"], lambda k: 3)
    order_b = _rate_all(client, links["bob"], lambda k: 5)
    real_a = [k for k in order_a if not k.startswith("check-")]
    assert sorted(real_a) == sorted(items.keys)                  # every image exactly once
    assert real_a != [k for k in order_b if not k.startswith("check-")]  # raters get their own orders
    checks_a = [i for i, k in enumerate(order_a) if k.startswith("check-")]
    assert len(checks_a) == (len(items) - 1) // 3          # after every 3 images while images remain
    for j, pos in enumerate(checks_a):
        assert sum(not k.startswith("check-") for k in order_a[:pos]) == 3 * (j + 1)
    df = store.frame()
    assert len(df) == len(order_a) + len(order_b)
    assert df.shown_at.notna().all() and (df.submitted_at >= df.shown_at).all()
    assert set(df[df.is_check == 1].expected) <= set(range(1, 8))
    assert client.get(f"/r/{links['alice']}").status_code == 200 and b'id="done"' in client.get(f"/r/{links['alice']}").data


def test_bad_ratings_are_refused_and_nothing_is_stored(session):
    items, store, client = session
    key, alice = items.keys[0], store.links()["alice"]
    for bad, code, text in [({"rating": 0}, 400, "from 1 to 7"), ({"rating": 8}, 400, "from 1 to 7"),
                            ({"rating": "4.5"}, 400, "whole number"), ({"rating": "x"}, 400, "whole number"),
                            ({"key": "alice", "rating": 4}, 403, "unknown rater link"),  # an id is no key
                            ({"rating": 4.0}, 400, "whole number"), ({"rating": True}, 400, "whole number"),
                            ({"rating": "4.0"}, 400, "whole number"),
                            ({"item": "nope", "rating": 4}, 404, "unknown item")]:
        res = client.post("/api/rate", json={"key": alice, "item": key, **bad})
        assert res.status_code == code and text in res.get_json()["error"]
        if isinstance(bad.get("rating"), (bool, float)):
            continue  # a form carries text only
        form = client.post(f"/r/{bad.get('key', alice)}", data={k: str(v) for k, v in {"item": key, **bad}.items()})
        assert form.status_code == code and text.encode() in form.data.replace(b"&#39;", b"'")
    assert client.post("/api/rate", data="not json").status_code == 400
    assert store.count() == 0
    res = client.post(f"/r/{alice}", data={"item": key, "rating": "6", "client_ms": "850"})
    assert res.status_code == 303 and store.count() == 1 and int(store.frame().client_ms[0]) == 850
    assert store.frame().rating.map(type).eq(int).all()
    assert client.get("/r/alice").status_code == 403
    assert client.get("/image/check-4").mimetype == "image/png" and client.get("/image/zzz").status_code == 404


def test_export_mean_n_sd_excludes_failed_raters(built_avatars, fresh_copy, tmp_path):
    data = fresh_copy(built_avatars)
    db = tmp_path / "r.sqlite"
    items, store = open_session(str(data), db, ["alice", "bob", "carol"], check_every=4)
    client = create_app(items, store).test_client()
    given = {"alice": lambda k: 1 + items.keys.index(k) % 7, "bob": lambda k: 7 - items.keys.index(k) % 3}
    links = store.links()
    _rate_all(client, links["alice"], given["alice"])
    _rate_all(client, links["bob"], given["bob"])
    client.post("/api/rate", json={"key": links["bob"], "item": items.keys[0], "rating": 2})  # bob changes his mind
    for _ in range(6):  # carol fails every attention check: her ratings must not count
        nxt = client.get(f"/api/next?key={links['carol']}").get_json()
        wrong = 1 if nxt["item"] != "check-1" else 2
        client.post("/api/rate", json={"key": links["carol"], "item": nxt["item"], "rating": wrong})
    store.close()
    report = export_ratings(str(data), db)
    assert set(report.excluded_raters) == {"carol"} and report.raters_used == 2
    ds = load_rows(str(data))
    by_id = {r["id"]: r for r in ds}
    for i, key in enumerate(items.keys):
        votes = [given["alice"](key), 2 if i == 0 else given["bob"](key)]
        row = by_id[key]
        assert row["human_rating"] == pytest.approx(statistics.fmean(votes), abs=1e-4)
        assert row["human_rating_n"] == 2
        assert row["human_rating_sd"] == pytest.approx(statistics.stdev(votes), abs=1e-4)
    assert "Human ratings: 12 rows rated" in (data / "README.md").read_text()


def test_export_to_a_copy_and_guard_rails(built_avatars, fresh_copy, tmp_path):
    data = fresh_copy(built_avatars)
    db = tmp_path / "r.sqlite"
    items, store = open_session(str(data), db, ["alice"], check_every=0)
    client = create_app(items, store).test_client()
    client.post("/api/rate", json={"key": store.links()["alice"], "item": items.keys[2], "rating": 6})
    store.close()
    before = (data / "metadata.jsonl").read_text()
    out = tmp_path / "rated"
    export_ratings(str(data), db, out)
    assert (data / "metadata.jsonl").read_text() == before          # the source is untouched
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    rated = [r for r in rows if r["human_rating_n"]]
    assert [(r["id"], r["human_rating"], r["human_rating_sd"]) for r in rated] == [(items.keys[2], 6.0, None)]
    assert len(load_rows(str(out))) == len(rows)
    from vbench.data.synthetic import build_synthetic_avatars

    other = str(build_synthetic_avatars(tmp_path / "syn", n=3))
    with pytest.raises(UsageError, match="another dataset"):
        export_ratings(other, db)
    with pytest.raises(UsageError, match="another dataset"):
        open_session(other, db, ["alice"])
    with pytest.raises(UsageError, match="no raters registered"):
        open_session(str(data), tmp_path / "empty.sqlite", [])
    with pytest.raises(UsageError, match="no rating database"):
        export_ratings(str(data), tmp_path / "missing.sqlite")


def test_rater_lists_and_the_cli_errors(built_avatars, tmp_path, run_cli):
    from vbench.annotate.server import parse_raters

    (tmp_path / "more.txt").write_text("cy\n\n dee \n")
    assert parse_raters(f"ana, ben,@{tmp_path / 'more.txt'}") == ["ana", "ben", "cy", "dee"]
    with pytest.raises(UsageError, match="file not found"):
        parse_raters("@/no/such/file")
    res = run_cli("annotate", "--dataset", str(built_avatars), "--db", str(tmp_path / "r.sqlite"), "--port", "0")
    assert res.returncode == 2 and "no raters registered" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("annotate", "export", "--dataset", str(built_avatars), "--db", str(tmp_path / "none.sqlite"))
    assert res.returncode == 2 and "no rating database" in res.stderr


def test_links_are_unguessable_and_cross_origin_or_foreign_host_requests_are_refused(session):
    items, store, client = session
    links = store.links()
    assert set(links) == {"alice", "bob"} and len(set(links.values())) == 2
    assert all(len(k) >= 20 and "alice" not in k and "bob" not in k for k in links.values())
    alice, key = links["alice"], items.keys[0]
    # a form posted from another site (CSRF) stores nothing
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"},
                    {"Sec-Fetch-Site": "cross-site"}):
        res = client.post(f"/r/{alice}", data={"item": key, "rating": "7"}, headers=headers)
        assert res.status_code == 403 and b"cross-origin" in res.data
        assert client.post("/api/rate", json={"key": alice, "item": key, "rating": 7}, headers=headers).status_code == 403
    assert store.count() == 0
    same = client.post(f"/r/{alice}", data={"item": key, "rating": "7"},
                       headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 303 and store.count() == 1
    # DNS rebinding: a page on another name that resolves here is not answered
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get(f"/api/next?key={alice}", headers={"Host": "attacker.example:5000"}).status_code == 400
    assert client.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 200


def test_old_databases_get_rater_links(tmp_path):
    import sqlite3

    from vbench.annotate.store import RatingStore

    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("CREATE TABLE raters (rater_id TEXT PRIMARY KEY, added_at REAL NOT NULL)")
    db.execute("INSERT INTO raters VALUES ('ana', 0)")
    db.commit()
    db.close()
    store = RatingStore(tmp_path / "old.sqlite")
    assert store.rater_for_key(store.links()["ana"]) == "ana" and store.rater_for_key("ana") is None
    store.close()
