"""Cleaning of raw LLM outputs (method Part A §6): strip numbering, quotes and role prefixes; drop empty, too short
or too long texts, copies of the source or of any real text, and duplicates. Every drop is counted by reason."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from autogets.data import normalise_text

_PREFIX = re.compile(
    r"^\s*(?:[-*•]+\s*|\(?\d{1,3}[.):]\s*|(?:assistant|user|system|answer|example|question|new example|output)"
    r"\s*(?:\d+\s*)?:\s*)+", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»`"


def strip_decoration(text: str) -> str:
    """First non-empty line, without list markers, numbering, role prefixes or surrounding quotes."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[0]
    for _ in range(3):
        line = _PREFIX.sub("", line).strip().strip(_QUOTES).strip()
    return normalise_text(line)


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
        text = strip_decoration(raw)
        reason = self._reason(text, source)
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
