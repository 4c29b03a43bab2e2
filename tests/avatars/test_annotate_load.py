"""Many concurrent raters on loopback (short, bounded): every acknowledged rating is in the database."""
from __future__ import annotations

from vbench.annotate.app import create_app
from vbench.annotate.loadtest import run_load
from vbench.annotate.server import ServerThread, open_session


def test_concurrent_raters_lose_no_rating(built_avatars, tmp_path):
    raters = [f"r{i:02d}" for i in range(12)]
    items, store = open_session(str(built_avatars), tmp_path / "r.sqlite", raters, check_every=4)
    with ServerThread(create_app(items, store)) as server:
        result = run_load(server.url, raters, duration_s=2.0, items=items.keys)
    df = store.frame()
    store.close()
    assert result.acknowledged > len(raters)              # every rater got through more than once
    assert result.transport_errors == 0 and result.refused == 0
    assert set(result.acked_ids) <= set(df.id)            # 0 lost: each acknowledged id is stored
    assert len(df) == result.acknowledged                 # and nothing stored that was not acknowledged
    assert set(df.rater_id) == set(raters) and df.rating.between(1, 7).all()
