"""The samples index: filters, search, paging and sorting agree with the records themselves."""
from __future__ import annotations

import json

from tests.view.conftest import rewrite
from vbench.view.facets import facets_of, model_rating
from vbench.view.index import Query, SampleIndex, head_page


def records(folder):
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def index(folder, task, tmp_path):
    idx = SampleIndex(folder / "samples.jsonl", task, root=tmp_path / "idx")
    idx.build()
    return idx


def ids(idx, q, n=1000):
    total, ords = idx.select(q, n)
    recs = idx.records(ords)
    assert total == len(recs)
    return [r["episode_id"] for r in recs]


def test_filters_match_the_records(copy_run, tmp_path):
    folder = copy_run("ultimatum_pair")

    def hurt(rec):  # one errored game, as the scheduler writes it
        if rec["index"] == 1:
            rec.update(status="error", error="infra error: boom", outputs={})
        return rec

    rewrite(folder / "samples.jsonl", hurt)
    recs = records(folder)
    idx = index(folder, "ultimatum_pair", tmp_path)
    assert ids(idx, Query(errors="only")) == [r["episode_id"] for r in recs if r["status"] == "error"]
    assert len(ids(idx, Query(errors="hide"))) == len(recs) - 1
    levels = {str(p["level"]) for r in recs if r["outputs"] for p in r["outputs"]["transcript"]["players"].values()}
    for level in levels:
        want = [r["episode_id"] for r in recs if r["outputs"] and
                level in {str(p["level"]) for p in r["outputs"]["transcript"]["players"].values()}]
        assert ids(idx, Query(level=level)) == want
    nonanswer_r2 = [r["episode_id"] for r in recs if r["outputs"] and any(
        o["round"] == 2 and (o["offer_nonanswer"] or o["response_nonanswer"]) for o in r["outputs"]["transcript"]["outcomes"])]
    assert ids(idx, Query(round="2", flag="nonanswer")) == nonanswer_r2
    assert ids(idx, Query(parse="fail")) == [r["episode_id"] for r in recs if facets_of("ultimatum_pair", r).parse_fail]


def test_full_text_search_finds_what_a_model_said(copy_run, tmp_path):
    folder = copy_run("ultimatum_pair")
    rewrite(folder / "samples.jsonl", lambda r: (r["turns"][3].update(response="a zanzibarian counteroffer"), r)[1]
            if r["index"] == 2 else r)
    idx = index(folder, "ultimatum_pair", tmp_path)
    target = records(folder)[2]["episode_id"]
    assert ids(idx, Query(q="zanzibar")) == [target]  # prefix match
    assert ids(idx, Query(q='zanzibarian "counteroffer')) == [target]  # quotes are text, not syntax
    assert ids(idx, Query(q="nowhere-to-be-found")) == []


def test_paging_covers_every_episode_once(runs, tmp_path):
    idx = index(runs["aggressiveness_rating"], "aggressiveness_rating", tmp_path)
    seen = []
    for page in range(1, 6):
        seen += [r["episode_id"] for r in idx.records(idx.select(Query(page=page), 5)[1])]
    assert seen == [r["episode_id"] for r in records(runs["aggressiveness_rating"])]


def test_sort_by_disagreement_with_humans(runs, tmp_path):
    recs = records(runs["aggressiveness_rating"])
    want = sorted(recs, key=lambda r: -abs(model_rating(r["outputs"]) - r["sample"]["human_rating"]))
    idx = index(runs["aggressiveness_rating"], "aggressiveness_rating", tmp_path)
    assert ids(idx, Query(sort="disagreement")) == [r["episode_id"] for r in want]


def test_value_facet_and_grouping_order(runs, tmp_path):
    idx = index(runs["value_spectrum"], "value_spectrum", tmp_path)
    recs = records(runs["value_spectrum"])
    values = dict(idx.facet_values()["value"])
    assert sum(values.values()) == len(recs) and len(values) == 10
    grouped = ids(idx, Query(sort="value"))
    keys = [(r["sample"]["value"], r["sample"]["keyword"]) for r in sorted(recs, key=lambda r: grouped.index(r["episode_id"]))]
    assert keys == sorted(keys)


def test_index_follows_the_file_and_survives_bad_lines(copy_run, tmp_path):
    folder = copy_run("aggressiveness_rating")
    first = SampleIndex(folder / "samples.jsonl", "aggressiveness_rating", root=tmp_path)
    first.build()
    with open(folder / "samples.jsonl", "a") as fh:
        fh.write("{not json\n")
    second = SampleIndex(folder / "samples.jsonl", "aggressiveness_rating", root=tmp_path)
    assert second.path != first.path and not second.ready  # a changed file gets a fresh index
    second.build()
    total, ords = second.select(Query(errors="only"), 10)
    assert total == 1 and second.records(ords)[0]["error"].startswith("unreadable line")
    assert [r["episode_id"] for r in head_page(folder / "samples.jsonl", 3)] == \
        [r["episode_id"] for r in second.records([0, 1, 2])]
