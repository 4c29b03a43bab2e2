"""What the two ultimatum tasks share: options, the prompt set, persona loading, seats and metrics."""
from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from vbench.data.defaults import default_dataset
from vbench.tasks.base import Sample, Task, TaskContext, TaskOptions, stable_hash
from vbench.tasks.prompts import load_prompts
from vbench.tasks.ultimatum.game import GameConfig, Seat, opening_parts, run_game
from vbench.tasks.ultimatum.metrics import compute_metrics, summary_rows
from vbench.tasks.ultimatum.personas import Persona, load_personas
from vbench.tasks.ultimatum.transcripts import PlayerInfo, Seat as SeatKey, Transcript
from vbench.types import GenParams, Record

PROMPTS = load_prompts("vbench.tasks.ultimatum")


def profile(name: str) -> dict[str, Any]:
    """A prompt profile with ``inherit`` resolved."""
    prof = dict(PROMPTS["profiles"][name])
    parent = prof.pop("inherit", None)
    return {**profile(parent), **prof} if parent else prof


class UltimatumOptions(TaskOptions):
    prompt_profile: Literal["paper", "uniform"] = Field("paper", description="prompt texts (prompts.yaml profiles)")
    extractor: Literal["rules", "judge"] = Field("rules", description="outcome extraction: parser or LLM judge (role 'judge')")
    merge_user_turns: bool = Field(False, description="join adjacent user turns (templates needing strict alternation)")
    rating_column: str = "human_rating"
    level_column: str | None = None
    levels_from: str | None = Field(None, description="aggressiveness_rating samples.jsonl (or run folder) giving levels")
    rating_field: str = "auto"
    n_levels: int = Field(7, ge=2, le=20)
    binning: Literal["round", "quantile"] = "round"
    id_column: str | None = None


UltimatumOptionsT = TypeVar("UltimatumOptionsT", bound=UltimatumOptions)


class UltimatumTask(Task[UltimatumOptionsT]):
    """Generic over the study's options (solo and pair add their own to :class:`UltimatumOptions`)."""

    version = "1.0"
    default_repeats = 5
    study: ClassVar[Literal["solo", "pair"]]

    def __init__(self, options: UltimatumOptionsT, ctx: TaskContext):
        super().__init__(options, ctx)
        self._samples: list[Sample] | None = None
        self.prof = profile(options.prompt_profile)

    @property
    def dataset_spec(self) -> str:
        return self.ctx.dataset or default_dataset("avatars")

    def prompt_set(self) -> dict[str, Any]:
        keys = ("version", "order_text", "round_marker", "round_marker_to", "generation", "rounds")
        ps = {k: PROMPTS[k] for k in keys}
        ps.update(profile=self.options.prompt_profile, texts=self.prof, study=self.study,
                  merge_user_turns=self.options.merge_user_turns, extractor=self.options.extractor)
        if self.study == "solo":
            ps["confederate"] = PROMPTS["confederate"]
        if self.options.extractor == "judge":
            ps.update(judge=PROMPTS["judge"], judge_generation=PROMPTS["judge_generation"])
        return ps

    def game_config(self) -> GameConfig:
        return GameConfig(system=self.prof["system"], round_marker=PROMPTS["round_marker"],
                          marker_to=PROMPTS["round_marker_to"][self.study], gen=GenParams(**PROMPTS["generation"]),
                          merge_user_turns=self.options.merge_user_turns)

    def rules_text(self, seat: str, order: str) -> str:
        return self.prof["rules"][self.prof["seats"][seat]].format(order=PROMPTS["order_text"][order])

    def personas(self, limit: int | None = None) -> list[Persona]:
        o = self.options
        personas, self.skipped = load_personas(
            self.dataset_spec, self.ctx.store, rating_column=o.rating_column, level_column=o.level_column,
            levels_from=o.levels_from, rating_field=o.rating_field, n_levels=o.n_levels, binning=o.binning,
            limit=limit, skip_bad=self.ctx.skip_bad_samples, id_column=o.id_column)
        return personas

    def model_name(self, role: str) -> str | None:
        return self.ctx.models.get(role) or self.ctx.models.get("default")

    def model_seat(self, key: SeatKey, persona: dict, role: str, rules: str,
                   opponent_image: str | None) -> Seat:
        info = PlayerInfo(kind="model", model=self.model_name(role), role=role, image_id=persona["image_id"],
                          image=persona["image"], level=persona.get("level"), rating=persona.get("rating"))
        return Seat(key=key, info=info, request_role=role,
                    opening=opening_parts(self.prof, rules, persona["image"], opponent_image))

    def samples(self) -> list[Sample]:
        if self._samples is None:
            self._samples = self.build_samples()
        return self._samples

    def build_samples(self) -> list[Sample]:
        raise NotImplementedError

    def dataset_fingerprint(self) -> str:
        return stable_hash([s.meta for s in self.samples()])

    def play(self, sample: Sample, repeat: int, seats: dict[SeatKey, Seat]):
        game_id = f"{sample.id}#{repeat}"
        return (yield from run_game(game_id, self.study, seats, self.game_config(), extractor=self.options.extractor,
                                    prompts=PROMPTS, repeat=repeat, meta={"sample": sample.id}))

    # -- metrics ---------------------------------------------------------------------------
    def metrics(self, records: list[Record]) -> dict[str, Any]:
        transcripts = [Transcript.model_validate(r.outputs["transcript"]) for r in records if "transcript" in r.outputs]
        return compute_metrics(transcripts, self.study)

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any]):
        return summary_rows(metrics)
