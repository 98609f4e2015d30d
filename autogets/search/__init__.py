"""Search for the synthetic texts worth adding (method Part B §4–5): representation, evaluator, strategies."""

from __future__ import annotations

from autogets.errors import SearchError
from autogets.search.base import SearchResult, Strategy, run_strategy
from autogets.search.evaluator import Budget, Evaluation, Evaluator, Problem

STRATEGIES = ("sw", "hsw", "ga", "random")

__all__ = ["STRATEGIES", "Budget", "Evaluation", "Evaluator", "Problem", "SearchResult", "Strategy",
           "make_strategy", "run_strategy"]


def make_strategy(name: str, *, seed: int = 42, **params) -> Strategy:
    """A strategy by name with the paper's defaults (``params`` override them)."""
    if name == "sw":
        from autogets.search.sw import SlidingWindow

        return SlidingWindow(**params)
    if name == "hsw":
        from autogets.search.hsw import HierarchicalSlidingWindow

        return HierarchicalSlidingWindow(**params)
    if name == "ga":
        from autogets.search.ga import GeneticAlgorithm

        return GeneticAlgorithm(seed=seed, **params)
    if name == "random":
        from autogets.search.random_search import RandomSearch

        return RandomSearch(seed=seed, **params)
    raise SearchError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
