"""A simulated short-video feed that learns only from watch (yes) / skip (no).

Algorithm (per trial; every trial holds its own state and advances on its own):

1. State: a topic affinity vector ``a`` (one entry per topic of the FeedSpace) and a taste vector
   ``u`` (in the compact item space). After a scroll with reward r (``+1`` watch, ``-skip_penalty``
   skip) on item x of topic c: ``a <- memory·a + r·spill_row(c)`` and ``u <- memory·u + r·x``, where
   ``spill_row(c)`` is 1 on c and ``spill · similarity`` on the ``spill_topics`` nearest topics.
2. Next item: explore with probability ``eps_s = max(explore_min, explore_start · explore_decay^s)``
   (always before any feedback): a uniformly random unseen item. Otherwise exploit: a topic drawn
   from ``softmax(a / topic_temperature)``, then an unseen item of that topic drawn from
   ``softmax(cos(u, x) / item_temperature)``.
3. Never twice: seen items are masked; exhausted topics get probability 0.
4. No lookahead: the item of scroll s+1 is chosen from the feedback on scrolls 1..s, including the
   answer just given, as the study's recommender reacts to each swipe. (Task versions before 3.0
   buffered one item ahead, so an answer first acted on the scroll after next.)
5. Determinism: each trial draws its random numbers up front from its own seed (3 per scroll) and
   every choice is an inverse-CDF draw on its own state, so a trial's feed does not depend on which
   other trials run, nor on the order in which trials advance.

Platform profiles (``platforms.yaml``) differ only in these documented parameters and in the corpus
slice; they are simulations, not models of the real platforms' systems.
"""
from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vbench.tasks.isq_induction.feed_space import FeedSpace


class PlatformProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    description: str = ""
    labels: list[str] = Field(default_factory=list, description="corpus platform labels of this slice")
    explore_start: float = Field(ge=0, le=1)
    explore_decay: float = Field(gt=0, le=1)
    explore_min: float = Field(ge=0, le=1)
    memory: float = Field(gt=0, le=1, description="per-scroll decay of affinity and taste")
    skip_penalty: float = Field(ge=0)
    topic_temperature: float = Field(gt=0)
    item_temperature: float = Field(gt=0)
    spill: float = Field(ge=0, le=1)
    spill_topics: int = Field(ge=0)

    def epsilon(self, scroll: int) -> float:
        return max(self.explore_min, self.explore_start * self.explore_decay ** scroll)


def spill_matrix(space: FeedSpace, profile: PlatformProfile) -> np.ndarray:
    """[C, C]: row c is 1 on c and spill·similarity on its nearest ``spill_topics`` topics."""
    sim = space.centroid_sim.copy()
    np.fill_diagonal(sim, -np.inf)
    out = np.eye(space.n_topics)
    k = min(profile.spill_topics, space.n_topics - 1)
    if k > 0 and profile.spill > 0:
        nn = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        rows = np.arange(space.n_topics)[:, None]
        out[rows, nn] = profile.spill * np.clip(sim[rows, nn], 0, None)
    return out


def _inverse_cdf(weights: np.ndarray, u: float) -> int:
    """The index drawn with probability ∝ ``weights`` using the uniform ``u`` (weights must have mass)."""
    cs = weights.cumsum()
    i = int(cs.searchsorted(u * cs[-1], side="right"))
    return i if i < cs.size else int(np.flatnonzero(weights)[-1])  # u·total rounded up to the total


class FeedSimulator:
    """One platform's feed: the item space and profile its trials share (read-only after construction).

    ``start(seed)`` opens a trial; trials share nothing mutable, so any number of them can advance
    in any interleaving.
    """

    def __init__(self, space: FeedSpace, profile: PlatformProfile, scrolls: int):
        if scrolls > space.n:
            raise ValueError(f"{scrolls} scrolls need at least as many items; the pool has {space.n}")
        self.space, self.profile, self.scrolls = space, profile, scrolls
        self.spill = spill_matrix(space, profile)
        # plain Python numbers and pre-divided rows: a scroll of one trial is a few dozen small numpy calls
        self.spill_logits = self.spill / profile.topic_temperature
        self.epsilon = [profile.epsilon(s) for s in range(scrolls)]
        self.offsets = [int(o) for o in space.offsets]
        self.topic_of = [int(c) for c in space.topic_of]

    def start(self, seed: int) -> FeedTrial:
        """A new trial; its random numbers for every scroll come from ``seed`` alone."""
        return FeedTrial(self, seed)


class FeedTrial:
    """One trial's feed: ``next_item`` → (the viewer decides) → ``feedback`` → ``next_item`` …

    The affinity is kept divided by ``topic_temperature`` (the topic logits); exhausted topics carry
    -inf in ``dead`` so they get probability 0.
    """

    def __init__(self, sim: FeedSimulator, seed: int):
        sp = sim.space
        self.sim = sim
        self.logits = np.zeros(sp.n_topics)
        self.dead = np.zeros(sp.n_topics)
        self.taste = np.zeros(sp.vecs.shape[1], np.float32)
        self.seen = np.zeros(sp.n, bool)
        self.remaining = sp.sizes.astype(np.float64)
        self.draws: list[list[float]] = np.random.default_rng(seed).random((sim.scrolls, 3)).tolist()
        self.shown: list[int] = []   # local item index per scroll
        self.n_fed = self.n_seen = 0

    def next_item(self) -> int:
        """Corpus row of the item to show next, chosen from every answer so far."""
        s = len(self.shown)
        if s >= self.sim.scrolls:
            raise RuntimeError(f"the trial has already seen its {self.sim.scrolls} scrolls")
        if self.n_fed < s:
            raise RuntimeError(f"feedback for scroll {s} is missing")
        self.shown.append(self._choose(s))
        return int(self.sim.space.items[self.shown[s]])

    def feedback(self, watched: bool) -> None:
        """Watch (True) or skip (False) of the item on screen; the next item reacts to it."""
        s = self.n_fed
        if s >= len(self.shown):
            raise RuntimeError("feedback without a shown item")
        sim, local = self.sim, self.shown[s]
        memory, reward = sim.profile.memory, 1.0 if watched else -sim.profile.skip_penalty
        self.logits *= memory
        self.logits += reward * sim.spill_logits[sim.topic_of[local]]
        self.taste *= np.float32(memory)
        self.taste += np.float32(reward) * sim.space.vecs[local]
        self.n_fed = s + 1

    def replace_current(self) -> int:
        """Re-draw the item on screen (e.g. its image is unreadable); it stays marked as seen."""
        s = len(self.shown) - 1
        if s < 0 or self.n_fed > s:
            raise RuntimeError("no item on screen to replace")
        self.shown[s] = self._choose(s)
        return int(self.sim.space.items[self.shown[s]])

    def _choose(self, s: int) -> int:
        sim = self.sim
        if self.n_seen == sim.space.n:
            raise RuntimeError(f"every item of the pool ({sim.space.n}) has been shown or replaced")
        explore_u, topic_u, item_u = self.draws[s]
        explore = explore_u < sim.epsilon[s] or self.n_fed == 0
        if explore:
            topic_w = self.remaining
        else:
            topic_w = self.logits + self.dead
            topic_w -= topic_w.max()
            np.exp(topic_w, out=topic_w)
        topic = _inverse_cdf(topic_w, topic_u)
        lo, hi = sim.offsets[topic], sim.offsets[topic + 1]
        unseen = ~self.seen[lo:hi]
        norm2 = float(self.taste @ self.taste)
        if explore or norm2 == 0:
            weights = unseen.astype(np.float64)
        else:
            # softmax(cos(u, x) / item_temperature) over the topic's unseen items; the max over the whole
            # topic (seen or not) keeps exponents >= -2/temperature for unit vectors
            weights = (sim.space.vecs[lo:hi] @ self.taste).astype(np.float64)
            weights -= weights.max()
            weights *= 1.0 / (math.sqrt(norm2) * sim.profile.item_temperature)
            np.exp(weights, out=weights)
            weights *= unseen
        local = lo + _inverse_cdf(weights, item_u)
        self.seen[local] = True
        self.n_seen += 1
        self.remaining[topic] -= 1
        if self.remaining[topic] == 0:
            self.dead[topic] = -np.inf
        return local
