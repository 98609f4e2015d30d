"""Random baseline (method Part B §4.5): iteration ``it`` draws ``k ~ U{1..N}`` (seed ``42 + it + 1000``) and
``k`` pool examples with replacement (seed ``42 + it``); duplicates collapse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autogets.search.base import SearchResult, result_of
from autogets.search.evaluator import Evaluator
from autogets.search.representation import ClassView


def random_selection(pool: np.ndarray, iteration: int, seed: int = 42) -> frozenset[int]:
    k = int(np.random.default_rng(seed + iteration + 1000).integers(1, len(pool) + 1))
    return frozenset(int(i) for i in np.random.default_rng(seed + iteration).choice(pool, k, replace=True))


@dataclass
class RandomSearch:
    """Parameters: ``seed`` (42), ``batch`` candidates proposed at a time, ``max_iterations`` safety stop."""

    seed: int = 42
    batch: int = 16
    max_iterations: int = 100_000
    name: str = "random"

    def search(self, view: ClassView, evaluator: Evaluator) -> SearchResult:
        pool = np.array(sorted(evaluator.pool))
        if len(pool) == 0:
            return result_of(self.name, evaluator, stopped="no candidates")
        it = 0
        while not evaluator.exhausted and it < self.max_iterations:
            evaluator.evaluate([random_selection(pool, it + j, self.seed) for j in range(self.batch)])
            it += self.batch
        return result_of(self.name, evaluator)
