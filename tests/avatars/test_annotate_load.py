"""Many concurrent raters on loopback (short, bounded): every acknowledged rating is in the database."""
from __future__ import annotations

from vbench.annotate.app import create_app
from vbench.annotate.loadtest import run_load
from vbench.annotate.server import ServerThread, open_session


def test_concurrent_raters_lose_no_rating(built_avatars, tmp_path):
    raters = [f"r{i:02d}" for i in range(12)]
    items, store = open_session(str(built_avatars), tmp_path / "r.sqlite", raters, check_every=4)
    with ServerThread(create_app(items, store)) as server:
        links = store.links()
        result = run_load(server.url, [links[r] for r in raters], duration_s=2.0, items=items.keys)
    df = store.frame()
    store.close()
    assert result.acknowledged > len(raters)              # every rater got through more than once
    assert result.transport_errors == 0 and result.refused == 0
    assert set(result.acked_ids) <= set(df.id)            # 0 lost: each acknowledged id is stored
    assert len(df) == result.acknowledged                 # and nothing stored that was not acknowledged
    assert set(df.rater_id) == set(raters) and df.rating.between(1, 7).all()


def test_group_commit_isolates_a_bad_row(tmp_path):
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    from vbench.annotate.store import Rating, RatingStore

    store = RatingStore(tmp_path / "r.sqlite")
    store.add_raters(["a"])
    good = [Rating(rater="a", item=f"i{n}", rating=1 + n % 7) for n in range(40)]
    bad = Rating.model_construct(rater="a", item="x", rating=9, shown_at=None, client_ms=None)  # skips validation
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(store.add, r, is_check=False, expected=None) for r in good[:20] + [bad] + good[20:]]
        results = [f.exception() or f.result() for f in futures]
    assert isinstance(results[20], sqlite3.IntegrityError)   # the database's CHECK refuses it
    ids = [r for i, r in enumerate(results) if i != 20]
    df = store.frame()
    assert sorted(ids) == sorted(df.id) and len(df) == 40 and df.rating.between(1, 7).all()
    store.close()
