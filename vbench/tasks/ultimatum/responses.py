"""The responder's decision (accept / reject / none) and whether it makes a counter-proposal.

The decision is the first decisive cue of the turn's own part, sentence by sentence. Cues that decide
nothing are skipped: a question ("Should I accept or reject?"), deliberation ("whether to accept"), a
hypothetical ("rejecting would leave us both with nothing", "if I reject"), a recap of what someone did
earlier ("you accepted last round"), a condition ("I'd accept $40"). A negation anywhere earlier in the
clause turns acceptance into rejection ("I cannot in good conscience accept") and rejection into
acceptance ("I won't reject it"). "Deal" accepts only as a verdict ("Deal!", "it's a deal"). A turn
that names a division of its own after a counter cue ("revised offer: 50-50", "I'd accept $40")
is a counter-proposal, which counts as a rejection unless the turn also accepts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from vbench.tasks.ultimatum.turntext import TOKEN, is_past, normalise, own_part, plain, scan, sentences

_ACC = r"(?:accept\w*|agree\w*|tak\w* (?:it|that|this|the offer|your offer|the deal|that deal))"
_REJ_WORD = r"(?:reject\w*|refus\w*|declin\w*|turn\w* (?:it |this |that |your \w+ )?down|say no)"
_NEGATOR = (r"(?:not|never|cannot|can't|can not|won't|wouldn't|don't|doesn't|didn't|shouldn't|couldn't|no way"
            r"|unable to|than)")
_CLAUSE_WORDS = r"(?:[\s,]+(?!but\b|though\b|although\b|yet\b|so\b|and\b|because\b|as\b)[\w$'%-]+){0,6}?[\s,]+"

_CUES = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in (
    ("skip", r"\baccept\w* or (?:reject|declin|refus)\w*|\b(?:reject|declin|refus)\w* or accept\w*"
             r"|\bwhether (?:or not )?(?:to |i |i should )?(?:accept|reject|agree|declin)\w*(?: or (?:not|\w+))?"
             r"|\bbetween accepting and rejecting\b|\bbetween rejecting and accepting\b"
             r"|\b(?:accepting|rejecting|refusing|declining)\b(?:\s+[\w$'%]+){0,4}?\s+(?:would|will|could|might|means|is)\b"
             r"|\bif (?:i|we) (?:\w+ )?(?:accept|reject|refuse|decline)\w*"
             r"|\byou (?:\w+ )?(?:accepted|rejected|refused|declined|agreed)\b"
             r"|\bi(?:'d| would) (?:accept|agree to|take|settle for)\s+(?=(?:only |at least |a |an )?\$?\d|if\b|half)"),
    ("nothing_less", r"\b(?:accept|settle for|take)\w* (?:nothing|no|anything) (?:less|lower) than\b"),
    ("neg_acc", rf"\b{_NEGATOR}{_CLAUSE_WORDS}{_ACC}\b|\bnot {_ACC}"),
    ("neg_rej", rf"\b(?:not|never|won't|can't|cannot|don't|wouldn't)\s+(?:\w+\s+){{0,2}}?{_REJ_WORD}"),
    ("rej", rf"\b{_REJ_WORD}|\bunacceptable\b|\bno deal\b|\bpass on\b|\bno way\b|\bnot a chance\b|\bforget it\b"
            r"|\bnone of it\b|\bnot having it\b|\bmy answer is no\b|\bi say no\b|\bi must say no\b"
            r"|^\W*(?:no|nope|nah|never)\b(?=\W*(?:$|[,.!;:-]))|\babsolutely not\b"),
    ("acc", rf"\b{_ACC}|\bacceptable\b|^\W*deal\b|\b(?:it's|it is|that's|that is|you've got|you have|we have|got) a deal\b"
            r"|\bi(?:'ll| will)? take it\b|\bsounds good\b|\bworks for me\b|\bfine (?:by|with) me\b|\bi'm in\b"
            r"|\bhappy with (?:that|this|the)\b|\bthat'll do\b|\bthat will do\b|\bi say yes\b|^\W*(?:yes|yep|yeah)\b"
            r"|\bi(?:'ll| will)? take the \$?\d"),
)), re.M)
_DECISION = {"nothing_less": False, "neg_acc": False, "neg_rej": True, "rej": False, "acc": True}
_PAST_TENSE = re.compile(r"\b(?:accepted|rejected|refused|declined|agreed)\b")

# cues followed by the responder's own terms, and verdicts on terms named in the same sentence
_COUNTER_AHEAD = re.compile(
    r"(?<!you )(?<!you've )\bpropos(?:e|ing)\b|\bsuggest\w*|\bcounter\w*|\bhow about\b|\bwhat about\b"
    r"|\brevised (?:offer|proposal)\b|\bi(?:'d| would) (?:accept|agree to|take|settle for)\b|\bi demand\b|\bi want\b"
    r"|\blet's (?:do|make it|split)\b|\b(?:accept|settle for|take)\w* (?:nothing|no|anything) (?:less|lower) than\b"
    r"|\bat least\b|\bcould we\b|\bmeet (?:you )?in the middle\b")
_COUNTER_VERDICT = re.compile(r"\bwould be (?:more )?(?:fair|fairer|reasonable|acceptable|better)\b|\bfairer\b|\binstead\b")
_DIVISION = re.compile(r"\$?\b\d{1,3}\b|\bhalf\b|\bevenly\b|\bequal(?:ly)?\b|\beven split\b")


# words of which every decision cue holds one (a cheap test before the cue patterns)
_CUE_STEMS = ("accept", "agree", "tak", "reject", "refus", "declin", "turn", "settle")
_CUE_WORDS = frozenset("say deal pass way chance forget none having no nope nah never nay sounds works fine in happy "
                       "do yes yep yeah absolutely".split())
_COUNTER_HINTS = ("propos", "suggest", "counter", "about", "revised", "i'd", "i would", "demand", "want", "let's",
                  "less than", "lower than", "at least", "could we", "middle", "would be", "fairer", "instead")


def _may_decide(sentence: str) -> bool:
    low = sentence.lower()
    return any(s in low for s in _CUE_STEMS) or not _CUE_WORDS.isdisjoint(TOKEN.findall(low))


@dataclass(frozen=True)
class ResponseParse:
    accepted: bool | None
    counter_proposal: bool


def _decision(sentence: str) -> bool | None:
    if sentence.rstrip().endswith("?"):  # a question decides nothing
        return None
    recap = is_past(sentence)
    for m in scan(_CUES, sentence):
        kind = m.lastgroup
        if kind is None or kind == "skip" or (recap and _PAST_TENSE.search(m.group())):
            continue
        return _DECISION[kind]
    return None


def _counter(parts: list[str]) -> bool:
    """A division of the responder's own (``parts``: plain sentences): named after a counter cue, or in a
    sentence that judges it fairer ("$40 for me would be more reasonable")."""
    cue_seen = False
    for s in parts:
        hinted = any(h in s for h in _COUNTER_HINTS)
        if not (hinted or cue_seen):
            continue
        t = normalise(s)
        if cue_seen and _DIVISION.search(t):
            return True
        if hinted:
            for m in scan(_COUNTER_AHEAD, t):
                if _DIVISION.search(t, m.end()):
                    return True
                cue_seen = True
            if next(scan(_COUNTER_VERDICT, t), None):
                if _DIVISION.search(t):
                    return True
                cue_seen = True
    return False


def parse_response(text: str | None) -> ResponseParse:
    """Accept (True) / reject (False) / no usable answer (None); counter-proposals are rejections."""
    if not text or not text.strip():
        return ResponseParse(None, False)
    parts = sentences(own_part(text))
    decision = None
    for s in parts:
        if _may_decide(s):
            decision = _decision(plain(s))
            if decision is not None:
                break
    if decision is True:
        return ResponseParse(True, False)
    if _counter([plain(s) for s in parts]):
        return ResponseParse(False, True)
    return ResponseParse(decision, False)
