"""Per-request sampling for batched ``generate``: each row draws from its own seeded generator.

Seeding the global RNG once per batch makes a request's text depend on which other requests share its
batch (batch size, ``--limit``, cache hits, resume). Here every row owns a ``torch.Generator`` seeded by
its request's ``gen.seed``; at each step the processor applies temperature and top-p (transformers'
own warpers), draws one token per row from that row's generator, and masks every other token, so
greedy decoding picks the drawn token. A row's draws then depend only on its own seed and logits.
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

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device: Any = "cpu"):
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self.warpers: list[LogitsProcessor] = [TemperatureLogitsWarper(temperature)]
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p, min_tokens_to_keep=1))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"{scores.shape[0]} rows but {len(self.generators)} seeds (beam search is not supported)")
        warped = scores.float()
        for warp in self.warpers:
            warped = warp(input_ids, warped)
        probs = torch.softmax(warped, dim=-1)
        picks = torch.stack([torch.multinomial(probs[r], 1, generator=g).squeeze(0)
                             for r, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, picks.unsqueeze(1), 0.0)
        return out  # type: ignore[return-value]  # transformers annotates scores as the legacy FloatTensor alias
