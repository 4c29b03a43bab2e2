import numpy as np
import pytest

from vbench.errors import UsageError
from vbench.tasks.isq_induction.feed_space import build_space, choose_slice, platform_rows, project
from vbench.tasks.isq_induction.recommender import FeedSimulator, PlatformProfile
from vbench.tasks.isq_induction.synthetic_corpus import synthetic_embeddings
from vbench.tasks.isq_induction.task import PLATFORMS

PROFILES = {name: PlatformProfile(**p) for name, p in PLATFORMS["profiles"].items()}


@pytest.fixture(scope="module")
def world():
    emb, values, _ = synthetic_embeddings(60, 32, seed=3)
    space = build_space("all", np.arange(values.size), project(emb, 64), seed=0)
    return space, values


def play(space, profile, seeds, viewer, scrolls, order="lockstep"):
    """Run one trial per seed; viewer(trial_index, corpus_row) -> watched. Returns [trials, scrolls] rows.

    ``order``: "lockstep" (every trial one scroll, then the next scroll), "sequential" (each trial to
    its end, last trial first) or an int seed of a random interleaving."""
    sim = FeedSimulator(space, profile, scrolls)
    feeds = [sim.start(s) for s in seeds]
    if order == "lockstep":
        turns = [t for _ in range(scrolls) for t in range(len(feeds))]
    elif order == "sequential":
        turns = [t for t in reversed(range(len(feeds))) for _ in range(scrolls)]
    else:
        turns = list(np.random.default_rng(order).permutation(np.repeat(np.arange(len(feeds)), scrolls)))
    shown = np.zeros((len(feeds), scrolls), np.int64)
    done = [0] * len(feeds)
    for t in turns:
        item = feeds[t].next_item()
        shown[t, done[t]] = item
        feeds[t].feedback(bool(viewer(t, item)))
        done[t] += 1
    return shown


def test_never_shows_an_item_twice_even_when_it_must_show_all(world):
    space, values = world
    sim_rows = play(space, PROFILES["tiktok"], [1, 2], lambda t, i: values[i] == 0, scrolls=space.n)
    for row in sim_rows:
        assert sorted(row) == list(range(space.n))


def test_deterministic_given_the_seed_whatever_the_other_trials_and_the_interleaving(world):
    space, values = world
    viewer = lambda t, i: values[i] in (2 + t % 3, 5)  # noqa: E731
    seeds = [7, 8, 9, 10, 11]
    lockstep = play(space, PROFILES["youtube"], seeds, viewer, 40)
    for order in ("sequential", 0, 1):
        assert (play(space, PROFILES["youtube"], seeds, viewer, 40, order) == lockstep).all(), order
    alone = play(space, PROFILES["youtube"], [7], viewer, 40)
    assert (alone[0] == lockstep[0]).all()
    assert (play(space, PROFILES["youtube"], [99], viewer, 40) != alone).any()


def test_the_next_scroll_reacts_to_the_answer_just_given(world):
    """No lookahead: one watch at scroll 10 leaves scrolls <= 10 alone and, for some seeds, changes scroll 11."""
    space, values = world
    changed_at, seeds = 10, range(20)
    base = play(space, PROFILES["tiktok"], seeds, lambda t, i: False, 30)
    counts = [0] * len(seeds)

    def viewer(t, i):
        counts[t] += 1
        return counts[t] - 1 == changed_at

    other = play(space, PROFILES["tiktok"], seeds, viewer, 30)
    assert (other[:, : changed_at + 1] == base[:, : changed_at + 1]).all()
    # a feed that buffered one item ahead could not differ at scroll 11 for any seed
    assert (other[:, changed_at + 1] != base[:, changed_at + 1]).any()
    assert (other[:, changed_at + 1:] != base[:, changed_at + 1:]).any(axis=1).mean() > 0.5


@pytest.mark.parametrize("platform", sorted(PROFILES))
def test_feed_converges_toward_a_planted_preference(world, platform):
    space, values = world
    targets = np.arange(20) % 10
    shown = play(space, PROFILES[platform], range(100, 120), lambda t, i: values[i] == targets[t], 60)
    hit = values[shown] == targets[:, None]
    first, last = hit[:, :30].mean(), hit[:, 30:].mean()
    assert last > first + 0.15, (first, last)
    assert last > 3 * 0.1  # well above the 10% a feed ignoring the viewer would show


def test_platforms_differ_in_how_fast_they_adapt(world):
    space, values = world
    targets = np.arange(30) % 10
    early = {}
    for name in ("tiktok", "youtube"):
        shown = play(space, PROFILES[name], range(200, 230), lambda t, i: values[i] == targets[t], 30)
        early[name] = (values[shown] == targets[:, None]).mean()
    assert early["tiktok"] > early["youtube"]
    assert PROFILES["tiktok"].explore_min < PROFILES["youtube"].explore_min


def test_replace_current_draws_another_unseen_item(world):
    space, _ = world
    feed = FeedSimulator(space, PROFILES["instagram"], 10).start(4)
    first = feed.next_item()
    again = feed.replace_current()
    assert again != first
    feed.feedback(True)
    later = [feed.next_item()]
    feed.feedback(True)
    later.append(feed.next_item())
    assert first not in later and again not in later


def test_protocol_misuse_is_refused(world):
    space, _ = world
    feed = FeedSimulator(space, PROFILES["tiktok"], 2).start(1)
    with pytest.raises(RuntimeError, match="without a shown item"):
        feed.feedback(True)
    with pytest.raises(RuntimeError, match="no item on screen"):
        feed.replace_current()
    feed.next_item()
    with pytest.raises(RuntimeError, match="feedback for scroll 1 is missing"):
        feed.next_item()
    feed.feedback(False)
    with pytest.raises(RuntimeError, match="no item on screen"):
        feed.replace_current()
    feed.next_item()
    feed.feedback(True)
    with pytest.raises(RuntimeError, match="already seen its 2 scrolls"):
        feed.next_item()
    with pytest.raises(ValueError, match="need at least as many items"):
        FeedSimulator(space, PROFILES["tiktok"], space.n + 1)
    unreadable = FeedSimulator(space, PROFILES["tiktok"], 2).start(1)  # every image fails: re-draw them all
    shown = {unreadable.next_item()} | {unreadable.replace_current() for _ in range(space.n - 1)}
    assert len(shown) == space.n
    with pytest.raises(RuntimeError, match="every item of the pool"):
        unreadable.replace_current()


def test_platform_slices_follow_labels():
    labels = ["TikTok", "YouTube Shorts", "Instagram Reels", "tiktok", ""]
    assert list(platform_rows(labels, ["tiktok"])) == [0, 3]
    assert list(platform_rows(labels, ["instagram", "reels"])) == [2]
    assert platform_rows(None, ["tiktok"]) is None
    rows, pool = choose_slice("tiktok", labels, ["tiktok"], 5, 2, "auto")
    assert pool == "platform" and list(rows) == [0, 3]
    rows, pool = choose_slice("instagram", labels, ["instagram"], 5, 2, "auto")  # only 1 labelled item < 2 scrolls
    assert pool == "all" and rows.size == 5
    assert choose_slice("tiktok", labels, ["tiktok"], 5, 2, "off")[1] == "all"
    with pytest.raises(UsageError, match="no usable instagram slice"):
        choose_slice("instagram", labels, ["instagram"], 5, 2, "require")
    with pytest.raises(UsageError, match="no platform labels"):
        choose_slice("tiktok", None, ["tiktok"], 5, 2, "require")


def test_space_groups_items_into_contiguous_topics(world):
    space, _ = world
    assert space.offsets[0] == 0 and space.offsets[-1] == space.n
    assert (np.diff(space.topic_of) >= 0).all() and (space.sizes > 0).all()
    assert sorted(space.items) == list(range(space.n))
    assert np.allclose(np.diag(space.centroid_sim), 1)


def test_readme_table_matches_the_profiles():
    """The README documents each profile's parameters; they must not drift from platforms.yaml."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, p in PROFILES.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))
        expected = (f"| `{name}` | {p.explore_start:g} / {p.explore_decay:g} / {p.explore_min:g} | {p.memory:g} | "
                    f"{p.skip_penalty:g} | {p.topic_temperature:g} / {p.item_temperature:g} | "
                    f"{p.spill:g} ({p.spill_topics}) |")
        assert row == expected


def test_projection_is_compact_and_unit_or_identity_when_small():
    emb, _, _ = synthetic_embeddings(20, 128, seed=1)          # 200 items, 128-d
    small = project(emb[:60], 64)                              # too few items for 64 components
    assert np.allclose(small, emb[:60], atol=1e-6)
    vecs = project(emb, 64)
    assert vecs.shape == (200, 64) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    # neighbours survive the projection: each item's nearest neighbour mostly stays among its top 5
    full, comp = emb @ emb.T, vecs @ vecs.T
    np.fill_diagonal(full, -2)
    np.fill_diagonal(comp, -2)
    top5 = np.argsort(-comp, axis=1)[:, :5]
    assert np.mean([full[i].argmax() in top5[i] for i in range(200)]) > 0.8
