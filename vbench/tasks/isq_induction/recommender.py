"""A simulated short-video feed that learns only from watch (yes) / skip (no).

Algorithm (per trial, all trials of a platform advanced together with numpy):

1. State: a topic affinity vector ``a`` (one entry per topic of the FeedSpace) and a taste vector
   ``u`` (in the compact item space). After a scroll with reward r (``+1`` watch, ``-skip_penalty``
   skip) on item x of topic c: ``a <- memory·a + r·spill_row(c)`` and ``u <- memory·u + r·x``, where
   ``spill_row(c)`` is 1 on c and ``spill · similarity`` on the ``spill_topics`` nearest topics.
2. Next item: explore with probability ``eps_s = max(explore_min, explore_start · explore_decay^s)``
   (always before any feedback): a uniformly random unseen item. Otherwise exploit: a topic drawn
   from ``softmax(a / topic_temperature)``, then an unseen item of that topic drawn from
   ``softmax(cos(u, x) / item_temperature)``.
3. Never twice: seen items are masked; exhausted topics get probability 0.
4. Prefetch: like the apps, which buffer the next video, the item for scroll s+1 is chosen while
   scroll s is on screen, i.e. from the feedback on scrolls 1..s-1. This lets one batched step serve
   every trial of a scheduler step (the trials report one by one within a step).
5. Determinism: each trial draws its random numbers up front from its own seed (3 per scroll) and
   every choice is an inverse-CDF draw on its own row, so results do not depend on which other
   trials run alongside.

Platform profiles (``platforms.yaml``) differ only in these documented parameters and in the corpus
slice; they are simulations, not models of the real platforms' systems.
"""
from __future__ import annotations

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


_BLAS = None


def _single_thread_blas():
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the index drawn with probability ∝ weights using the uniform u (rows must have mass)."""
    cs = np.cumsum(weights, axis=1)
    return (cs > (u * cs[:, -1])[:, None]).argmax(axis=1)


class FeedSimulator:
    """All trials of one platform feed. Rows are trials; see the module doc for the algorithm."""

    def __init__(self, space: FeedSpace, profile: PlatformProfile, scrolls: int, capacity: int = 16):
        if scrolls > space.n:
            raise ValueError(f"{scrolls} scrolls need at least as many items; the pool has {space.n}")
        self.space, self.profile, self.scrolls = space, profile, scrolls
        self.spill = spill_matrix(space, profile)
        self.rows = 0
        self._alloc(max(1, capacity))

    # -- storage ---------------------------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        sp, S = self.space, self.scrolls
        fresh = {
            "affinity": np.zeros((cap, sp.n_topics)), "taste": np.zeros((cap, sp.vecs.shape[1]), np.float32),
            "seen": np.zeros((cap, sp.n), bool), "remaining": np.tile(sp.sizes, (cap, 1)),
            "shown": np.full((cap, S), -1, np.int64), "fed": np.full((cap, S), -1, np.int8),
            "draws": np.zeros((cap, S, 3)), "n_shown": np.zeros(cap, np.int64), "n_fed": np.zeros(cap, np.int64),
            "n_applied": np.zeros(cap, np.int64), "active": np.zeros(cap, bool),
        }
        for key, arr in fresh.items():
            old = getattr(self, key, None)
            if old is not None:
                arr[: self.rows] = old[: self.rows]
            setattr(self, key, arr)
        self.capacity = cap

    def register(self, seed: int) -> int:
        """A new trial; its random numbers for every scroll come from ``seed`` alone."""
        if self.rows == self.capacity:
            self._alloc(2 * self.capacity)
        row = self.rows
        self.rows += 1
        self.draws[row] = np.random.default_rng(seed).random((self.scrolls, 3))
        self.active[row] = True
        return row

    def release(self, row: int) -> None:
        self.active[row] = False

    # -- the feed protocol ---------------------------------------------------------------------------
    def next_item(self, row: int) -> int:
        """Corpus row of the item to show next to trial ``row`` (computes the whole step lazily)."""
        s = int(self.n_shown[row])
        if s >= self.scrolls:
            raise RuntimeError(f"trial {row} has already seen its {self.scrolls} scrolls")
        if self.n_fed[row] < s:
            raise RuntimeError(f"trial {row}: feedback for scroll {s} is missing")
        if self.shown[row, s] < 0:
            live = np.flatnonzero(self.active[: self.rows])
            batch = live[(self.n_shown[live] == s) & (self.shown[live, s] < 0) & (self.n_fed[live] >= s - 1)]
            with _single_thread_blas():  # many small matmuls: threads cost more than they give
                self._apply_feedback(batch, upto=s - 1)
                self._choose(batch, s)
        self.n_shown[row] = s + 1
        return int(self.space.items[self.shown[row, s]])

    def feedback(self, row: int, watched: bool) -> None:
        """Watch (True) or skip (False) of the item last shown to trial ``row``."""
        s = int(self.n_fed[row])
        if s >= self.n_shown[row]:
            raise RuntimeError(f"trial {row}: feedback without a shown item")
        self.fed[row, s] = 1 if watched else 0
        self.n_fed[row] = s + 1

    def replace_current(self, row: int) -> int:
        """Re-draw the item just shown (e.g. its image is unreadable); it stays marked as seen."""
        s = int(self.n_shown[row]) - 1
        self.shown[row, s] = -1
        self._choose(np.array([row]), s)
        return int(self.space.items[self.shown[row, s]])

    # -- learning and choosing -------------------------------------------------------------------------
    def _apply_feedback(self, rows: np.ndarray, upto: int) -> None:
        """Fold feedback of scrolls ``< upto`` into each row's affinity and taste (vectorised)."""
        p = self.profile
        while rows.size:
            rows = rows[self.n_applied[rows] < upto]
            if not rows.size:
                return
            j = self.n_applied[rows]
            local = self.shown[rows, j]
            reward = np.where(self.fed[rows, j] == 1, 1.0, -p.skip_penalty)
            self.affinity[rows] = p.memory * self.affinity[rows] + reward[:, None] * self.spill[self.space.topic_of[local]]
            self.taste[rows] = p.memory * self.taste[rows] + (reward[:, None] * self.space.vecs[local]).astype(np.float32)
            self.n_applied[rows] = j + 1

    def _choose(self, rows: np.ndarray, s: int) -> None:
        if not rows.size:
            return
        p, sp = self.profile, self.space
        draws = self.draws[rows, s]
        explore = (draws[:, 0] < p.epsilon(s)) | (self.n_applied[rows] == 0)
        remaining = self.remaining[rows].astype(np.float64)
        logits = np.where(remaining > 0, self.affinity[rows] / p.topic_temperature, -np.inf)
        exploit_p = np.exp(logits - logits.max(axis=1, keepdims=True))
        topic_w = np.where(explore[:, None], remaining, exploit_p)
        topics = _inverse_cdf(topic_w, draws[:, 1])
        norms = np.linalg.norm(self.taste[rows], axis=1)
        taste = self.taste[rows] / np.maximum(norms, 1e-12)[:, None]
        uniform = explore | (norms == 0)
        chosen = np.empty(rows.size, np.int64)
        order = np.argsort(topics, kind="stable")
        bounds = np.flatnonzero(np.diff(topics[order])) + 1
        for group in np.split(order, bounds):
            c = topics[group[0]]
            lo, hi = sp.offsets[c], sp.offsets[c + 1]
            unseen = ~self.seen[rows[group], lo:hi]
            sims = taste[group] @ sp.vecs[lo:hi].T
            # max over the whole topic (seen or not): unit vectors keep exponents >= -2/temperature
            w = np.exp((sims - sims.max(axis=1, keepdims=True)).astype(np.float64) / p.item_temperature) * unseen
            flat = uniform[group]
            if flat.any():
                w[flat] = unseen[flat]
            chosen[group] = lo + _inverse_cdf(w, draws[group, 2])
        self.shown[rows, s] = chosen
        self.seen[rows, chosen] = True
        self.remaining[rows, topics] -= 1
