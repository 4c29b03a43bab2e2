"""A toy tokenizer and the token log-probs of a distribution over whole answers (for the loopback server).

Splitting numbers into single digits, like Llama's tokenizer, reproduces the case first-token scoring
gets wrong: "10" is "1", "0", so P("10") sits on the first token "1".
"""
from __future__ import annotations

import hashlib
import math
import re
from typing import Sequence

_TOKEN = re.compile(r"\s?\d|\s?[^\W\d_]+|\s+|[^\w\s]|_")


def toy_tokens(text: str) -> list[str]:
    """A toy tokenizer that, like Llama's, splits numbers into single digits: "10" → "1", "0"."""
    return _TOKEN.findall(text)


def templated(system: str, text: str, n_images: int) -> list[str]:
    """Tokens of a chat prompt: a start token, the system text, one token per image, the user text and
    the assistant header (a reply being continued follows it)."""
    return ["<s>", *toy_tokens(system), *["<image>"] * n_images, *toy_tokens(text), "<|assistant|>"]


def token_id(token: str) -> int:
    return int.from_bytes(hashlib.sha256(token.encode()).digest()[:4], "big") & 0x7FFFFFFF


class AnswerTokens:
    """Token log-probs of an answer distribution: P(t | prefix) = mass of answers going on with t."""

    FLOOR = 1e-9  # tokens leading to no listed answer

    def __init__(self, answers: dict[str, float] | None, top_logprobs: Sequence[tuple[str, float]] = ()):
        """``answers``: P(whole answer); without it, each first-token alternative is a one-token answer."""
        dist = answers
        if dist is None:
            dist = {}
            for tok, lp in top_logprobs:
                dist[tok] = dist.get(tok, 0.0) + math.exp(lp)
        self.seqs = [(tuple(toy_tokens(a)), p) for a, p in dist.items()]

    def mass(self, prefix: tuple[str, ...]) -> float:
        return sum(p for seq, p in self.seqs if seq[:len(prefix)] == prefix)

    def first_tokens(self, k: int) -> list[tuple[str, float]]:
        firsts = sorted({seq[0] for seq, _ in self.seqs if seq}, key=lambda t: -self.mass((t,)))
        return [(t, math.log(self.mass((t,)))) for t in firsts[:k]]

    def continuation(self, tokens: list[str]) -> list[float]:
        out: list[float] = []
        prefix: tuple[str, ...] = ()
        for t in tokens:
            before, after = self.mass(prefix), self.mass((*prefix, t))
            out.append(math.log(max(after / before if before > 0 else 0.0, self.FLOOR)))
            prefix = (*prefix, t)
        return out

    def prompt_logprobs(self, base: list[str], cont: list[str]) -> list[dict[str, dict] | None]:
        """vLLM's ``prompt_logprobs`` field: None for the first token, then {id: {logprob, rank,
        decoded_token}} per prompt token (the prompt's own tokens at -1.0, the reply's from the answers)."""
        lps = [-1.0] * (len(base) - 1) + self.continuation(cont)
        return [None] + [{str(token_id(t)): {"logprob": lp, "rank": 1, "decoded_token": t}}
                         for t, lp in zip([*base[1:], *cont], lps)]
