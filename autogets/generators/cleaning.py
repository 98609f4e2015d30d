"""Cleaning of raw LLM outputs (method Part A §6): strip numbering, quotes, role prefixes and assistant lead-ins;
skip chatter lines; drop chatter, empty, too short or too long texts, copies of the source or of any real text,
and duplicates. Every drop is counted by reason."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from autogets.data import normalise_text

_MARKER = r"[-*•]+\s*|\(?\d{1,3}[.):]\s*"
_ROLE = r"(?:assistant|user|system|answer|example|question|new example|output)\s*(?:\d+\s*)?:\s*"
_PREFIX = re.compile(rf"^\s*(?:{_MARKER}|{_ROLE})+", re.IGNORECASE)
_MARKERS = re.compile(rf"^\s*(?:{_MARKER})+")
_QUOTES = "\"'“”‘’«»`"

# Building blocks of the chatter rules (all matched case-insensitively against a whole line).
_ACK = (r"(?:sure(?: thing)?|certainly|of course|okay|ok|absolutely|no problem|alright|all right|got it|understood|"
        r"here you go|here you are|here it is|here goes)")
_ACK_BEFORE_TEXT = r"(?:sure|certainly|of course|absolutely)!"  # "Sure! What does ...": stripped, the text kept
_NOUN = (r"(?:examples?|questions?|versions?|sentences?|paraphrases?|variants?|variations?|rewrites?|"
         r"rephrasings?|alternatives?|ones?|texts?|quer(?:y|ies)|outputs?|answers?|responses?|results?)")
_INTRO = (r"(?:here(?:['’]s| is| are)|below (?:is|are)|the following (?:is|are)|this is|these are|"
          r"i(?:['’]ve| have)? (?:written|created|generated|came up with))")
_LEAD_IN = rf"(?:{_ACK}[\s!.,]+)?{_INTRO}\b[^?:]{{0,100}}?\b{_NOUN}\b[^?:]{{0,100}}?:"
_MAX_CHATTER = 300  # characters; a longer line is never chatter (and the rules' matching stays linear)


@dataclass(frozen=True)
class ChatterRule:
    """A named pattern; a line it matches as a whole is assistant chatter, not a synthetic text."""

    name: str
    pattern: re.Pattern[str]


def _rule(name: str, pattern: str) -> ChatterRule:
    return ChatterRule(name, re.compile(pattern, re.IGNORECASE))


CHATTER_RULES: tuple[ChatterRule, ...] = (
    _rule("acknowledgement", rf"{_ACK}[\s!.:,]*"),
    _rule("lead_in", rf"{_LEAD_IN}|(?:{_ACK}[\s!.,]+)?here(?:'s| is| are)\b[^?:]{{0,100}}?\b{_NOUN}\b"
                     r"[^?:]{0,100}?[.!]?"),
    _rule("bare_label", r"(?:(?:a|an|the|my|one|another)\s+)?(?:(?:new|another|different|revised|rewritten|"
                        rf"alternative|paraphrased|synthetic|generated|similar|final)\s+)?{_NOUN}(?:\s*#?\d+)?\s*:?"),
    _rule("assistant_offer", rf"(?:{_ACK}[\s!.,]+)?(?:(?:i'?m|i am|i'?d be|i would be|i'?ll be|i will be)\s+"
                             r"(?:ready|happy|glad|here|delighted|pleased)\s+to\s+(?:help|assist)|"
                             r"(?:how|what) can i (?:help|assist|do for) you)\b.*"),
    _rule("ai_disclaimer", r"(?:as an? (?:ai|artificial intelligence|(?:large )?language model|llm|ai assistant|"
                           r"ai language model)|i'?m (?:just |only )?an? (?:ai|(?:large )?language model|"
                           r"virtual assistant))\b.*"),
    _rule("refusal", r"(?:(?:i'?m sorry|sorry|unfortunately|i apologi[sz]e)[,.!]?\s*(?:but\s+)?)?i (?:cannot|can't|"
                     r"can not|am unable to|'m unable to|am not able to|won't) (?:help|assist|comply|fulfil|fulfill|"
                     r"do|generate|create|provide)(?: with)? (?:that|this|such|your)\b.*"),
    _rule("asks_for_input", r"(?:(?:could|can|would) you (?:please )?|please )(?:provide|share|paste|send|give)\b"
                            r".*\b(?:example|text|sentence|question|input|class)s?\b.*"),
    _rule("sign_off", r"(?:(?:i )?hope (?:this|that|these|it) (?:helps?|is helpful|works)|let me know if (?:you|this|"
                      r"that|these|there|anything)\b|feel free to\b|is there anything else\b|anything else (?:i can|"
                      r"you)\b|if you (?:need|want|would like|'d like) (?:more|any|another|additional|further|other)"
                      r"\b|would you like (?:me to|more|another|additional|any)\b|happy (?:to help|helping)\b).*"),
    _rule("meta_commentary", r"(?:(?:note|explanation|reasoning|rationale)\s*[:\-–—]|\(note\b|(?:this|the (?:above|"
                             r"new|following|original|revised|rewritten|generated)) (?:example|question|sentence|"
                             r"paraphrase|rewrite|rephrasing)s? (?:is|are|keeps|maintains|belongs|belong|has|uses|"
                             r"follows|asks|retains|preserves|also|still|was)\b|i (?:have )?(?:rephrased|reworded|"
                             r"paraphrased)\b|i (?:kept|maintained|preserved) the (?:same )?(?:style|meaning|"
                             r"structure|wording|length|tone|class)\b).*"),
)
"""What chat models say around the text they were asked for, as named rules (a line is chatter when one rule
matches all of it, after list markers, role prefixes and quotes are stripped):

- ``acknowledgement``: "Sure!", "Of course.", "Here you go:".
- ``lead_in``: a line presenting the output, "Here is a different example that belongs to the same class:",
  "Certainly, here is a new question:", "Here's another one:" (a lead-in followed by text on the same line is
  stripped instead, keeping the text).
- ``bare_label``: a label alone, "New example:", "Example 3:", "Question:".
- ``assistant_offer``: "I'm ready to assist. What is it?", "I'd be happy to help", "How can I help you?".
- ``ai_disclaimer``: "As an AI language model, ...", "I'm just an AI ...".
- ``refusal``: "Sorry, but I can't help with that."
- ``asks_for_input``: "Please provide the example you would like me to rewrite."
- ``sign_off``: "I hope this helps!", "Let me know if you need more", "Would you like me to generate more?".
- ``meta_commentary``: "Note: ...", "This example belongs to the same class ...", "I rephrased the question ...".

The rules name assistant phrasing, not topics: a real text that merely contains the words ("Here is where NASA
launched from?", "What is the abbreviation for 'as soon as possible'?") matches none. Cleaning runs when cached raw
outputs are read, so a new rule applies to existing caches too.
"""

_LEAD_IN_PREFIX = re.compile(rf"^(?:{_LEAD_IN}|{_ACK_BEFORE_TEXT})\s+(?=\S)", re.IGNORECASE)


def _undecorated(line: str) -> str:
    """``line`` without list markers, numbering, role prefixes, a lead-in before the text, or surrounding quotes."""
    line = normalise_text(line)
    for _ in range(3):
        line = _LEAD_IN_PREFIX.sub("", _PREFIX.sub("", line).strip()).strip().strip(_QUOTES).strip()
    return line


def _matching_rule(text: str) -> str | None:
    if len(text) > _MAX_CHATTER:
        return None
    text = text.replace("’", "'")  # the rules spell apostrophes plainly; chat models often type them curly
    return next((rule.name for rule in CHATTER_RULES if rule.pattern.fullmatch(text)), None)


def _rule_for(line: str, undecorated: str) -> str | None:
    """A line that is nothing but decoration ("New example:") is matched as written, less markers and quotes."""
    return _matching_rule(undecorated or normalise_text(_MARKERS.sub("", line)).strip(_QUOTES).strip())


def chatter_rule(line: str) -> str | None:
    """The name of the chatter rule ``line`` matches once undecorated (see :data:`CHATTER_RULES`), else None."""
    return _rule_for(line, _undecorated(line))


def first_text(raw: str) -> tuple[str, int]:
    """The first line of ``raw`` that is neither chatter nor empty once undecorated (``""`` if none), and how many
    chatter lines came before it."""
    chatter = 0
    for line in raw.splitlines():
        text = _undecorated(line)
        if _rule_for(line, text):
            chatter += 1
        elif text:
            return text, chatter
    return "", chatter


def strip_decoration(text: str) -> str:
    """First line that is not chatter, without list markers, numbering, role prefixes, lead-ins or quotes."""
    return first_text(text)[0]


def _key(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


@dataclass
class CleanReport:
    """How many raw outputs were kept and how many were dropped, by reason."""

    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"kept": self.kept, "dropped": dict(self.dropped), "total": self.kept + sum(self.dropped.values())}

    def merge(self, other: CleanReport) -> CleanReport:
        self.kept += other.kept
        self.dropped.update(other.dropped)
        return self


@dataclass
class Cleaner:
    """Stateful filter: remembers what it kept, so later duplicates are dropped.

    Length bounds are in words: at least ``min_words``; at most ``max_ratio`` × the source's length (and
    ``max_words`` in any case). ``real_texts`` are the texts of the data set a synthetic copy must not repeat.
    An output with no line but chatter (:data:`CHATTER_RULES`) is dropped as ``chatter``.
    """

    real_texts: Iterable[str] = ()
    min_words: int = 2
    max_words: int = 80
    max_ratio: float = 4.0
    report: CleanReport = field(default_factory=CleanReport)

    def __post_init__(self) -> None:
        self._real = {_key(t) for t in self.real_texts}
        self._seen: set[str] = set()

    def clean(self, raw: str, source: str) -> str | None:
        """The cleaned text, or ``None`` (the reason is counted in :attr:`report`)."""
        text, chatter = first_text(raw)
        reason = "chatter" if not text and chatter else self._reason(text, source)
        if reason:
            self.report.dropped[reason] += 1
            return None
        self._seen.add(_key(text))
        self.report.kept += 1
        return text

    def _reason(self, text: str, source: str) -> str | None:
        if not text:
            return "empty"
        words = len(text.split())
        if words < self.min_words:
            return "too_short"
        if words > min(self.max_words, max(8, self.max_ratio * len(source.split()))):
            return "too_long"
        key = _key(text)
        if key == _key(source):
            return "copy_of_source"
        if key in self._real:
            return "copy_of_real_text"
        if key in self._seen:
            return "duplicate"
        return None
