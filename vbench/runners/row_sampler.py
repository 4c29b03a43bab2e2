"""Per-request sampling for batched ``generate``: each row draws from its own seeded generator.

Seeding the global RNG once per batch makes a request's text depend on which other requests share its
batch (batch size, ``--limit``, cache hits, resume). Here every row owns a ``torch.Generator`` seeded by
its request's ``gen.seed`` and draws the row's uniforms for all its steps up front (one call per row,
not per row and step). At step t the processor applies temperature and top-p (transformers' own
warpers) and picks, for every row at once, the token where the row's t-th uniform falls in its
cumulative distribution (inverse-CDF sampling), then masks every other token so greedy decoding picks
it. A row's tokens then depend only on its own seed and logits.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from transformers import LogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper


class RowSeededSampler(LogitsProcessor):
    """Sample one token per row with that row's generator; return scores that make greedy pick it.

    Use with ``do_sample=False`` (the draw happens here) and put it last in the processor list, so
    repetition penalties and the like still apply before the draw.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, max_steps: int, device: Any = "cpu"):
        self.seeds = [int(s) for s in seeds]
        self.device = device
        self.uniforms = self._draw(max(1, max_steps))
        self.step = 0
        self.warpers: list[LogitsProcessor] = [TemperatureLogitsWarper(temperature)]
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p, min_tokens_to_keep=1))

    def _draw(self, steps: int) -> torch.Tensor:
        """(rows, steps) uniforms in [0, 1): row r's come from its own generator only."""
        rows = [torch.rand(steps, generator=torch.Generator().manual_seed(s), dtype=torch.float64) for s in self.seeds]
        return torch.stack(rows).to(self.device, _exact_dtype(self.device))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.seeds):
            raise ValueError(f"{scores.shape[0]} rows but {len(self.seeds)} seeds (beam search is not supported)")
        if self.step >= self.uniforms.shape[1]:  # more steps than announced: the same streams, drawn further
            self.uniforms = self._draw(2 * self.uniforms.shape[1])
        warped = scores.float()
        for warp in self.warpers:
            warped = warp(input_ids, warped)
        probs = torch.softmax(warped, dim=-1).to(self.uniforms.dtype)
        cdf = probs.cumsum(dim=-1)
        target = (self.uniforms[:, self.step] * cdf[:, -1]).unsqueeze(1)
        self.step += 1
        picks = torch.searchsorted(cdf, target, right=True).squeeze(1)  # first token whose cdf exceeds the target
        last_positive = probs.shape[1] - 1 - (probs.flip(1) > 0).int().argmax(dim=1)
        picks = torch.minimum(picks, last_positive)  # a rounding overshoot stays on a token that has mass
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, picks.unsqueeze(1), 0.0)
        return out  # type: ignore[return-value]  # transformers annotates scores as the legacy FloatTensor alias


def _exact_dtype(device: Any) -> torch.dtype:
    """float64 for the cumulative sums where the device has it (Apple's MPS does not)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64
