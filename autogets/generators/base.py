"""The generator protocol and the records it produces (method Part A §6–7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SourceExample:
    """A real training example a synthetic text is conditioned on."""

    id: int
    text: str
    label: str


@dataclass(frozen=True)
class Synthetic:
    """One cleaned synthetic text, tied to the real example it was generated from."""

    source_id: int
    sample_index: int
    text: str
    label: str
    generator: str
    model: str
    prompt_version: str
    shown: tuple[str, ...] = ()
    """Hashes (:func:`~autogets.generators.cache.text_hash`) of the real texts other than the source that the
    prompt showed (few-shot and contrast examples): a cv fold that holds one out must not train on this text."""


@dataclass(frozen=True)
class Contrast:
    """The class a target is most confused with and a few of its real training texts, which a prompt may show as
    what the new texts must not read like (issue 14 lever 6; see :func:`autogets.pipeline.most_confused`)."""

    class_name: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class RawOutput:
    """What a generator returned for one source example: ``n`` raw strings, or the error that stopped it."""

    example: SourceExample
    texts: tuple[str, ...] = ()
    error: str | None = None
    shown: tuple[str, ...] = ()
    """The real texts other than the source that the prompt showed (few-shot and contrast examples)."""


ProgressCallback = Callable[[int, int], None]
"""Called with (examples done, examples total)."""


@runtime_checkable
class Generator(Protocol):
    """Produces ``n_per_example`` raw texts per real example of one class.

    ``context`` holds other real texts of the same class (from the training split) that a prompt may show as
    style examples. ``hint`` is a free-text wish for the new texts ("shorter", "more formal") that a prompt-based
    generator adds to its prompt (EDA ignores it); it is not part of ``prompt_version``, so a caller caching by
    that key must add it (``synthesize(variant=...)`` does). A generator with ``uses_contrast = True`` also takes
    ``contrast=`` (a :class:`Contrast`); :func:`~autogets.generators.cache.synthesize` passes it only to those and
    adds it to the cache key. One with ``uses_affinity = True`` takes ``affinity=`` too (each context text's cv
    folds: prefer shots that share the source's). A generator reports the real texts its prompt showed besides the
    source in ``RawOutput.shown``. Results are yielded per source example as soon as they exist, so a caller can
    store them before the next batch starts (an interrupted generation keeps what was generated).
    """

    name: str
    model: str
    prompt_version: str

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0, hint: str = "") -> Iterator[RawOutput]: ...
