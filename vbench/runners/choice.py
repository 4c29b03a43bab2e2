"""Option scoring shared by every backend: surface variants, pooling, renormalising, parsing.

A ``choose`` request asks for P(option). Two ways to answer it:

* ``logprobs``: log-probs of the answer's first token(s). The HF runner scores each option's
  ``surface_variants`` ("Yes", "yes", " yes", ...); API and vLLM runners get the top-k first tokens
  of a one-token answer. Either way the tokens are mapped onto options by their surface form (tokenizer
  markers, whitespace, quotes, punctuation and case ignored), pooled, and renormalised; the mass the
  options held before renormalising is reported as ``option_mass`` (low = the model wanted to say
  something else).
* ``parsed``: backends without log-probs append ``constrained_instruction`` and parse the answer; the
  probabilities are one-hot on the parsed option.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from vbench.types import Message, Request, TextPart

# tokenizer word-start markers (SentencePiece "▁", byte-level BPE "Ġ" and "Ċ"), quotes and punctuation
_EDGE = " \t\r\n\"'`*.,:;!?()[]{}<>\u2581\u0120\u010a"


def surface_variants(option: str) -> list[str]:
    """The spellings a model may use for an option at the start of its answer (deduplicated)."""
    forms = [option, option.lower(), option.capitalize(), option.upper()]
    out: list[str] = []
    for form in forms + [" " + f for f in forms]:
        if form not in out:
            out.append(form)
    return out


def normalize(token: str) -> str:
    """The surface form variants share: markers, whitespace, quotes, punctuation stripped, casefolded."""
    return token.strip(_EDGE).casefold()


def _option_for(token: str, options: Sequence[str], norm_options: Sequence[str]) -> str | None:
    """The option a first token stands for: an exact surface match, else the one option it uniquely starts."""
    t = normalize(token)
    if not t:
        return None
    for opt, n in zip(options, norm_options):
        if t == n:
            return opt
    starts = [opt for opt, n in zip(options, norm_options) if n.startswith(t)]
    return starts[0] if len(starts) == 1 else None


def pool_option_probs(token_logprobs: Mapping[str, float] | Iterable[tuple[str, float]],
                      options: Iterable[str]) -> tuple[dict[str, float], float]:
    """Pool log-probs of surface forms onto options and renormalise.

    ``token_logprobs`` maps surface strings (variants, or decoded top-k tokens) to log-probs; pairs are
    accepted too, so two token ids that decode alike both count. Strings naming no option are ignored;
    a first token of a multi-token option counts if it starts exactly one option. Returns
    ``(probs, mass)``; with no matching string, probs are uniform and mass is 0.0.
    """
    options = list(options)
    pairs = token_logprobs.items() if isinstance(token_logprobs, Mapping) else token_logprobs
    norm_options = [normalize(o) for o in options]
    pooled = {o: 0.0 for o in options}
    for token, logprob in pairs:
        opt = _option_for(token, options, norm_options)
        if opt is not None and logprob is not None and math.isfinite(logprob):
            pooled[opt] += math.exp(logprob)
    mass = sum(pooled.values())
    if mass <= 0.0:
        return {o: 1.0 / len(options) for o in options}, 0.0
    return {o: p / mass for o, p in pooled.items()}, min(mass, 1.0)


def constrained_instruction(options: Iterable[str]) -> str:
    """Text appended for backends that must answer in words: one option, nothing else."""
    return "Answer with exactly one of: " + ", ".join(options) + ". Reply with that answer only."


def constrained_messages(req: Request) -> tuple[Message, ...]:
    """The request's chat with ``constrained_instruction`` appended to its last user turn."""
    note = constrained_instruction(req.options)
    msgs = list(req.messages)
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].role == "user":
            msgs[i] = Message(role="user", content=[*msgs[i].content, TextPart(text="\n" + note)])
            return tuple(msgs)
    return (*msgs, Message.user(note))


def _pattern(option: str) -> re.Pattern[str]:
    # whole word, case-insensitive; a number must not be part of a longer number ("5" not in "15" or "5.5")
    return re.compile(r"(?<![\w.])" + re.escape(option.strip()) + r"(?!\w|\.\d)", re.IGNORECASE)


def parse_choice(text: str | None, options: Iterable[str]) -> str | None:
    """The option a free-text answer names: the whole answer if it is one, else the first named
    (whole word, case-insensitive; the longest on a tie); None if none."""
    if not text:
        return None
    options = list(options)
    whole = normalize(text)
    for opt in options:
        if normalize(opt) == whole:
            return opt
    best: tuple[int, int, str] | None = None
    for opt in options:
        if not opt.strip():
            continue
        m = _pattern(opt).search(text)
        if m and (best is None or (m.start(), -len(opt)) < (best[0], best[1])):
            best = (m.start(), -len(opt), opt)
    return best[2] if best else None


def one_hot(choice: str | None, options: Iterable[str]) -> dict[str, float] | None:
    if choice is None:
        return None
    return {o: 1.0 if o == choice else 0.0 for o in options}
