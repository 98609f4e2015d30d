"""Objectives (method Part A §9, Part B §5, §7.3): what a search maximises, on the validation split.

An objective turns an evaluation into a sort key (larger is better) relative to the baseline (M0 on the same
features). Single-metric objectives break ties with a smooth score, the target class's mean decision margin on
validation (Part A §14): CBA over ~14 validation examples moves in steps of ~.036, so many candidates tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from autogets.errors import SearchError

if TYPE_CHECKING:
    from autogets.search.evaluator import Evaluation

CLASS_OBJECTIVES = ("cba", "recall", "f1", "precision")
OVERALL_OBJECTIVES = ("oba", "overall_f1", "accuracy", "macro_f1")


def metric_value(metrics, name: str, target: str) -> float:
    """``name`` of ``metrics``: of class ``target`` for a per-class objective, else the overall value."""
    return metrics.value(name, target if name in CLASS_OBJECTIVES else None)


class Objective(Protocol):
    name: str
    target: str

    def key(self, e: Evaluation, base: Evaluation) -> tuple[float, ...]: ...

    def gain(self, e: Evaluation, base: Evaluation) -> float: ...


@dataclass(frozen=True)
class MetricObjective:
    """One metric: per-class (``cba``, ``recall``, ``f1``, ``precision`` of ``target``) or overall (``oba``,
    ``overall_f1`` = accuracy, ``macro_f1``). ``target`` is the improved class (its margin breaks ties)."""

    name: str
    target: str

    def __post_init__(self) -> None:
        if self.name not in CLASS_OBJECTIVES + OVERALL_OBJECTIVES:
            raise SearchError(f"unknown objective {self.name!r}; choose one of "
                              f"{', '.join(CLASS_OBJECTIVES + OVERALL_OBJECTIVES)}")

    def value(self, e: Evaluation) -> float:
        return metric_value(e.metrics, self.name, self.target)

    def key(self, e: Evaluation, base: Evaluation) -> tuple[float, ...]:
        return (round(self.value(e), 9), e.margin)

    def gain(self, e: Evaluation, base: Evaluation) -> float:
        return self.value(e) - self.value(base)


@dataclass(frozen=True)
class MultiObjective:
    """Several class goals at once, as the paper's multi-objective ensemble (method §7.3).

    Filter: every goal's change ≥ 0 and the overall F1 (accuracy) change ≥ 0 vs the baseline (failing candidates
    sort below all passing ones). Sort, descending: mean goal change; the current ``target``'s goal change; mean
    CBA change over the goal classes; OBA.
    """

    goals: tuple[tuple[str, str], ...]
    target: str
    name: str = "multi"

    def __post_init__(self) -> None:
        for metric, _cls in self.goals:
            if metric not in CLASS_OBJECTIVES:
                raise SearchError(f"goal metric {metric!r} must be one of {', '.join(CLASS_OBJECTIVES)}")

    def _deltas(self, e: Evaluation, base: Evaluation) -> list[float]:
        return [e.metrics.value(m, c) - base.metrics.value(m, c) for m, c in self.goals]

    def key(self, e: Evaluation, base: Evaluation) -> tuple[float, ...]:
        deltas = self._deltas(e, base)
        passes = all(d >= -1e-12 for d in deltas) and e.metrics.accuracy >= base.metrics.accuracy - 1e-12
        own = [d for (m, c), d in zip(self.goals, deltas, strict=True) if c == self.target]
        cba = [e.metrics.value("cba", c) - base.metrics.value("cba", c) for _m, c in self.goals]
        return (float(passes), round(sum(deltas) / len(deltas), 9), round(own[0] if own else 0.0, 9),
                round(sum(cba) / len(cba), 9), round(e.metrics.oba, 9), e.margin)

    def gain(self, e: Evaluation, base: Evaluation) -> float:
        deltas = self._deltas(e, base)
        return sum(deltas) / len(deltas)


def parse_goal(text: str, default_target: str | None = None) -> MultiObjective:
    """``"recall:ABBR,recall:LOC"`` → a :class:`MultiObjective` (target = first goal's class by default)."""
    goals = []
    for part in text.split(","):
        metric, sep, cls = part.strip().partition(":")
        if not sep or not metric or not cls:
            raise SearchError(f"bad goal {part.strip()!r}: write metric:CLASS, e.g. recall:ABBR")
        goals.append((metric.strip().lower(), cls.strip()))
    return MultiObjective(goals=tuple(goals), target=default_target or goals[0][1])


def make_objective(name: str, target: str) -> Objective:
    return MetricObjective(name=name.lower(), target=target)
