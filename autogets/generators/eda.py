"""EDA baseline (Wei & Zou 2019; method Part B §3): each augmentation applies one random operation out of synonym
replacement, random insertion, random swap and random deletion, with ``n = max(1, int(alpha · words))``.

Synonyms come from a small built-in English list (``templates/synonyms.txt``): no WordNet download at run time.
Seeded: the same (seed, source text) always gives the same augmentations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import resources

import numpy as np

from autogets.generators.base import RawOutput, SourceExample

OPERATIONS = ("synonym_replacement", "random_insertion", "random_swap", "random_deletion")


@lru_cache(maxsize=1)
def synonyms() -> dict[str, tuple[str, ...]]:
    """word → synonyms, from comma-separated groups, one group per line."""
    table: dict[str, list[str]] = {}
    text = resources.files("autogets.generators").joinpath("templates", "synonyms.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        group = [w.strip() for w in line.split(",") if w.strip() and not line.startswith("#")]
        for word in group:
            table.setdefault(word, []).extend(w for w in group if w != word)
    return {w: tuple(dict.fromkeys(s)) for w, s in table.items()}


def _syn(word: str) -> tuple[str, ...]:
    return synonyms().get(word.lower(), ())


def synonym_replacement(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    out = list(words)
    candidates = [i for i, w in enumerate(out) if _syn(w)]
    for i in rng.permutation(candidates)[:n]:
        options = _syn(out[i])
        out[i] = options[rng.integers(len(options))]
    return out


def random_insertion(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    out = list(words)
    pool = [s for w in words for s in _syn(w)]
    for _ in range(n):
        if not pool:
            break
        out.insert(int(rng.integers(len(out) + 1)), pool[rng.integers(len(pool))])
    return out


def random_swap(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    out = list(words)
    for _ in range(n):
        if len(out) < 2:
            break
        i, j = rng.choice(len(out), size=2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    if len(words) <= 1:
        return list(words)
    kept = [w for w in words if rng.random() > p]
    return kept or [words[rng.integers(len(words))]]


def augment(text: str, n_aug: int, *, alpha: float = 0.1, rng: np.random.Generator) -> list[str]:
    """``n_aug`` augmentations of ``text``, each by one randomly chosen operation."""
    words = text.split()
    n = max(1, int(alpha * len(words)))
    out = []
    for _ in range(n_aug):
        op = OPERATIONS[rng.integers(len(OPERATIONS))]
        if op == "synonym_replacement":
            new = synonym_replacement(words, n, rng)
        elif op == "random_insertion":
            new = random_insertion(words, n, rng)
        elif op == "random_swap":
            new = random_swap(words, n, rng)
        else:
            new = random_deletion(words, alpha, rng)
        out.append(" ".join(new))
    return out


class EDAGenerator:
    """The paper's EDA baseline as a :class:`~autogets.generators.base.Generator`."""

    name = "eda"
    uses_context = False  # the context is not used (part of the cache key when used)
    model = "eda"

    def __init__(self, *, alpha: float = 0.1):
        self.alpha = alpha
        self.prompt_version = f"alpha{alpha:g}"

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0, hint: str = "") -> Iterator[RawOutput]:
        """EDA has no notion of style: ``hint`` is ignored (a regeneration differs by its seed)."""
        for example in examples:
            digest = hashlib.sha256(f"{seed}\x00{example.text}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            yield RawOutput(example=example, texts=tuple(augment(example.text, n_per_example, alpha=self.alpha,
                                                                 rng=rng)))
