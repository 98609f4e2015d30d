"""The strategy protocol and the frozen result every strategy returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from autogets.search.evaluator import Evaluation, Evaluator
from autogets.search.representation import ClassView
from autogets.search.windows import Window


@dataclass(frozen=True)
class WindowChoice:
    """Where a window strategy found a selection (for the PCA-pair map)."""

    pair: tuple[int, int]
    window: Window
    level: int = 0


@dataclass(frozen=True)
class SearchResult:
    strategy: str
    best: Evaluation
    baseline: Evaluation
    history: tuple[Evaluation, ...]
    windows: dict[frozenset[int], WindowChoice] = field(default_factory=dict)
    stopped_because: str = "budget"

    @property
    def evaluations(self) -> int:
        return len(self.history)

    @property
    def fit_seconds(self) -> float:
        return float(sum(e.fit_seconds for e in self.history))

    def gains(self) -> list[float]:
        """Gain over M0 (validation, objective units) of each charged evaluation, in order."""
        return [e.gain for e in self.history]

    def best_window(self) -> WindowChoice | None:
        return self.windows.get(self.best.selection)


class Strategy(Protocol):
    """A search strategy: proposes selections to ``evaluator`` until its budget or its own end."""

    name: str

    def search(self, view: ClassView, evaluator: Evaluator) -> SearchResult: ...


def run_strategy(strategy: Strategy, view: ClassView, evaluator: Evaluator, *, include_all: bool = True
                 ) -> SearchResult:
    """Run ``strategy``, first evaluating the "all synthetic texts" candidate (method Part A §14) if asked.

    "None" (M0) is always a candidate: :meth:`Evaluator.best` includes the baseline.
    """
    if include_all and evaluator.pool:
        evaluator.evaluate([evaluator.pool])
    result = strategy.search(view, evaluator)
    return SearchResult(strategy=result.strategy, best=evaluator.best(), baseline=evaluator.baseline,
                        history=tuple(evaluator.history), windows=result.windows,
                        stopped_because=result.stopped_because)


def result_of(name: str, evaluator: Evaluator, windows: dict | None = None, stopped: str | None = None
              ) -> SearchResult:
    return SearchResult(strategy=name, best=evaluator.best(), baseline=evaluator.baseline,
                        history=tuple(evaluator.history), windows=windows or {},
                        stopped_because=stopped or ("budget" if evaluator.exhausted else "done"))
