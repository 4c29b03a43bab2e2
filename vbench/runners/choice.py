"""Option scoring shared by every backend: surface variants, pooling, renormalising, parsing.

A ``choose`` request asks for P(option). Each runner records how it answered as ``choice_scoring``
(written to results.json; runs scored differently never share a leaderboard board):

* ``full-continuation-logprobs`` (hf; openai against servers with prompt log-probs, e.g. ``vllm
  serve``): every surface variant of every option ("Yes", "yes", " yes", ...) is scored as a whole
  continuation of the prompt, log P(t1) + log P(t2 | t1) + ...; where one variant's tokens are a proper
  prefix of another's ("1" and "1","0" under a digit-splitting tokenizer) the longer continuations'
  mass is taken off the shorter (``exclusive_logprobs``), so P("10") is never credited to "1". Every
  option gets a probability.
* ``first-token-logprobs`` (openai without prompt log-probs): the top-k first tokens of a one-token
  answer, used only for option sets where no option is a prefix of another (``prefix_free``); options
  outside the top-k get nothing. Other option sets are answered by ``constrained-sample``.
* ``constrained-sample`` (anthropic, gemini; any server without log-probs): ``constrained_instruction``
  is appended and the sampled answer is parsed; probabilities are one-hot on the parsed option.

Log-prob methods map variants/tokens onto options by surface form (tokenizer markers, whitespace,
quotes, punctuation and case ignored), pool and renormalise; the mass the options held before
renormalising is reported as ``option_mass`` (low = the model wanted to say something else).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from vbench.types import Message, Request, TextPart

CONTINUATION = "full-continuation-logprobs"
FIRST_TOKEN = "first-token-logprobs"
CONSTRAINED = "constrained-sample"

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


def exclusive_logprobs(variant_ids: Mapping[str, Sequence[int]], lps: Mapping[str, float]) -> dict[str, float]:
    """log P(variant as a whole answer) from log P(its continuation): where one variant's token ids are a
    proper prefix of others' (digit-splitting tokenizers), the longer continuations' mass is taken off.
    Variants with the same token ids as an earlier one are dropped (a template that trims " yes" to
    "yes" must not count it twice)."""
    ids: dict[str, tuple[int, ...]] = {}
    for v, t in variant_ids.items():
        if v in lps and t and tuple(t) not in ids.values():
            ids[v] = tuple(t)
    out = {v: lps[v] for v in ids}
    for v, short in ids.items():
        longer = [w for w, t in ids.items() if len(t) > len(short) and t[:len(short)] == short]
        if longer:
            rest = math.exp(lps[v]) - sum(math.exp(lps[w]) for w in longer)
            out[v] = math.log(rest) if rest > 1e-30 else float("-inf")
    return out


def prefix_free(options: Iterable[str]) -> bool:
    """No option's surface form starts another's: a first token can then never credit one option with
    another's mass (it fails for 1..10, where "1" starts "10")."""
    norms = [normalize(o) for o in options]
    return not any(a != b and b.startswith(a) for a in norms for b in norms)


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
