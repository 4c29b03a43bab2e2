"""Scripted viewers: model-free runners with a known taste, to calibrate the feed's metrics.

A metric of persona induction should be clearly positive for a viewer that takes on the persona and
about zero for one that ignores it. Three viewers answer every request of the task (yes/no and the
ISQ 1-10 scales) from the screenshot's value and the persona in the system prompt:

- ``aligned``: with a persona, likes exactly the items of the persona's target values; without one
  (``plain``) it has no persona to follow and likes a fixed pseudo-random half of the items;
- ``random``: likes a pseudo-random half of the items, a different half per system prompt (persona);
- ``fixed``: always likes the items of one value (default Hedonism), persona or not.

"Likes" answers yes / 10, otherwise no / 1, with probability 1 (a log-prob backend at its most
decided). Answers depend only on the request, never on batch or arrival order.
"""
from __future__ import annotations

import hashlib
from typing import Literal

from vbench.runners.base import Runner, RunnerArgs
from vbench.tasks.isq_induction.personas import Persona
from vbench.types import Request, Response

Kind = Literal["aligned", "random", "fixed"]
VIEWERS: tuple[Kind, ...] = ("aligned", "random", "fixed")


def _coin(*parts: str) -> bool:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()[0] < 128


class ScriptedViewer(Runner[RunnerArgs]):
    """A viewer of one ``kind``; ``item_values`` maps stored image ids to their Schwartz value."""

    backend = "scripted-viewer"

    def __init__(self, kind: Kind, item_values: dict[str, str], personas: list[Persona], taste: str = "Hedonism"):
        super().__init__(RunnerArgs())
        self.kind, self.item_values, self.taste = kind, item_values, taste
        self.personas = [(p.text, set(p.values)) for p in personas]
        self._targets: dict[str, set[str] | None] = {}

    def fingerprint_fields(self) -> dict:
        return {"backend": self.backend, "kind": self.kind, "taste": self.taste}

    def targets(self, system: str) -> set[str] | None:
        """The target values of the persona named in the system prompt; None without a persona."""
        if system not in self._targets:
            self._targets[system] = next((values for text, values in self.personas if text and text in system), None)
        return self._targets[system]

    def likes(self, req: Request) -> bool:
        system = req.messages[0].text if req.messages[0].role == "system" else ""
        image = req.messages[-1].images[0]
        if self.kind == "fixed":
            return self.item_values[image] == self.taste
        targets = self.targets(system)
        if self.kind == "aligned" and targets is not None:
            return self.item_values[image] in targets
        return _coin(self.kind, system if self.kind == "random" else "", image)

    def run(self, requests: list[Request]) -> list[Response]:
        out = []
        for req in requests:
            liked = self.likes(req)
            top = ("yes" if liked else "no") if "yes" in req.options else ("10" if liked else "1")
            out.append(Response(probs={o: float(o == top) for o in req.options}, method="logprobs"))
        return out


def run_viewer(corpus: str, kind: Kind, task_args: dict, image_dir: str, seed: int = 0) -> dict:
    """The task's metrics for one scripted viewer on ``corpus`` (every trial through the scheduler)."""
    from vbench.evaluator import build_task
    from vbench.images import ImageStore
    from vbench.runners.scheduler import EpisodeSpec
    from vbench.session import Session
    from vbench.tasks.base import TaskContext
    from vbench.tasks.isq_induction.feed_corpus import load_feed_corpus
    from vbench.tasks.isq_induction.personas import load_personas
    from vbench.tasks.isq_induction.schwartz import VALUES

    store = ImageStore(image_dir)
    task = build_task("isq_induction", task_args, TaskContext(store=store, dataset=corpus, seed=seed))
    samples = task.samples()
    feed = load_feed_corpus(corpus)
    item_values = {store.put(feed.image(i)).image: VALUES[int(v)] for i, v in enumerate(feed.values)}
    viewer = ScriptedViewer(kind, item_values, load_personas(task.options.personas))
    specs = [EpisodeSpec(episode_id=s.id, index=i, sample=s.meta, gen=task.episode(s, 0, 0))
             for i, s in enumerate(samples)]
    records: list = []
    with Session(store=store, use_cache=False) as session:
        session.add_runner("default", viewer)
        session.scheduler().run(specs, records.append)
    return task.metrics([r for r in records if r.status == "ok"])
