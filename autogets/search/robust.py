"""Decisions that must survive noise (method Part A §11, §14; issue 14 "Selection that pays").

A search finds the candidate with the highest fitness among hundreds; part of that height is noise. So a change to
the training set — a phase of the ensemble, or the final choice between M0, "add all" and a search's best — is
taken only when its gain over the current set is positive *across folds* beyond noise, and overall accuracy (OBA)
does not drop by more than a small tolerance:

* per fold f: d_f = goal(candidate, fold f) − goal(current, fold f) (the same folds for both: a paired test);
* lower bound = mean(d) − z · se, with the Nadeau–Bengio correction for overlapping training sets,
  se = sd(d) · sqrt(1/F + ρ), ρ = held-out rows / training rows of a fold (repeated K-fold is not independent);
* accept when the lower bound is > 0, every goal class's pooled change is ≥ 0 (several goals), and
  OBA(candidate) ≥ OBA(current) − ``oba_tolerance``.

With one validation split (``fitness="validation"``) there are no folds: the bound is the gain itself (> 0).
``rule="no_drop"`` keeps the paper's rule (§7.1: accept if the goal does not drop), for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from autogets.errors import SearchError
from autogets.search.evaluator import Evaluation, Problem
from autogets.search.objectives import MultiObjective, Objective

ACCEPT_RULES = ("paired", "no_drop")
OBA_TOLERANCE = 0.001
"""How far OBA may drop for a change to be accepted, by default: a class gain is not bought with accuracy."""


@dataclass(frozen=True, kw_only=True)
class AcceptRule:
    """How a change to the training set is accepted. ``z``: width of the paired bound in standard errors;
    ``oba_tolerance``: how far OBA may drop; ``ratio``: ρ of the variance correction (set from the problem)."""

    rule: str = "paired"
    z: float = 1.0
    oba_tolerance: float = OBA_TOLERANCE
    ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.rule not in ACCEPT_RULES:
            raise SearchError(f"unknown accept rule {self.rule!r}; choose one of {', '.join(ACCEPT_RULES)}")
        if not 0.0 <= self.oba_tolerance <= 1.0:  # also refuses NaN
            raise SearchError(f"the OBA tolerance must be from 0 to 1 (an OBA drop), not {self.oba_tolerance!r}")
        if self.rule == "no_drop" and self.oba_tolerance != OBA_TOLERANCE:
            raise SearchError("an OBA tolerance applies to the paired accept rule only; the no_drop rule has no "
                              "accuracy guard")

    def for_problem(self, problem: Problem) -> AcceptRule:
        """This rule with ρ of ``problem``'s folds (0 without folds)."""
        if not problem.held_out:
            return replace(self, ratio=0.0)
        held = float(np.mean([len(h) for h in problem.held_out]))
        return replace(self, ratio=held / max(1.0, problem.n_real - held))


@dataclass(frozen=True)
class Verdict:
    """A decision and its numbers. ``held_by_oba``: refused only because OBA would drop beyond the tolerance (the
    goal's gain was above noise): a trade a person may choose to accept with a larger tolerance."""

    accepted: bool
    mean: float
    lower: float
    folds: int
    oba_change: float
    reason: str
    accuracy_change: float = 0.0
    held_by_oba: bool = False


def oba_within(oba_change: float, tolerance: float) -> bool:
    """Whether an OBA change passes the accuracy guard: a drop of at most ``tolerance`` (the one test of it)."""
    return oba_change >= -tolerance - 1e-12


def fold_gains(goal: Objective, candidate: Evaluation, current: Evaluation) -> np.ndarray:
    """The goal's gain of ``candidate`` over ``current`` on each fold (one value without folds)."""
    cand, cur = candidate.fold_metrics(), current.fold_metrics()
    if len(cand) != len(cur):
        raise SearchError("candidate and current were scored on different folds")
    return np.array([goal.gain(replace(candidate, metrics=c, folds=None), replace(current, metrics=b, folds=None))
                     for c, b in zip(cand, cur, strict=True)])


def verdict(goal: Objective, candidate: Evaluation, current: Evaluation, rule: AcceptRule) -> Verdict:
    """Whether ``candidate`` may replace ``current`` under ``rule`` (see the module docstring)."""
    d = fold_gains(goal, candidate, current)
    mean = float(d.mean())
    oba = candidate.metrics.oba - current.metrics.oba
    acc = candidate.metrics.accuracy - current.metrics.accuracy
    if rule.rule == "no_drop":
        ok = goal.gain(candidate, current) >= -1e-12 if not isinstance(goal, MultiObjective) else (
            goal.key(candidate, current)[0] == 1.0)
        return Verdict(ok, mean, mean, len(d), oba, "goal does not drop" if ok else "goal drops")
    se = float(d.std(ddof=1)) * math.sqrt(1 / len(d) + rule.ratio) if len(d) > 1 else 0.0
    lower = mean - rule.z * se
    if isinstance(goal, MultiObjective):
        worse = [c for (m, c) in goal.goals
                 if candidate.metrics.value(m, c) < current.metrics.value(m, c) - 1e-12]
        if worse:
            return Verdict(False, mean, lower, len(d), oba, f"{', '.join(worse)} would get worse")
    if lower <= 1e-12:
        return Verdict(False, mean, lower, len(d), oba,
                       f"gain {mean:+.4f} is not above noise (lower bound {lower:+.4f} over {len(d)} folds)")
    if not oba_within(oba, rule.oba_tolerance):
        return Verdict(False, mean, lower, len(d), oba,
                       f"gain {mean:+.4f} is above noise, but OBA would drop by {-oba:.4f} (tolerance "
                       f"{rule.oba_tolerance:g})", acc, held_by_oba=True)
    return Verdict(True, mean, lower, len(d), oba,
                   f"gain {mean:+.4f} (lower bound {lower:+.4f} over {len(d)} folds), OBA {oba:+.4f}", acc)


def goal_winner(goal: Objective, evaluations: Sequence[Evaluation], current: Evaluation) -> Evaluation:
    """The evaluation that is best by the goal (not the search's own objective); earliest on ties."""
    return max(evaluations, key=lambda e: (goal.key(e, current), -e.index))


def choose(goal: Objective, candidates: Sequence[Evaluation], current: Evaluation, rule: AcceptRule
           ) -> tuple[Evaluation | None, Verdict | None]:
    """Among ``candidates`` (e.g. a search's best and "add all"), the accepted one with the largest mean gain; when
    none is accepted, (None, a verdict): of the candidate OBA alone held back with the largest gain (the trade a
    person may want to hear of), else of the first candidate."""
    verdicts = [(c, verdict(goal, c, current, rule)) for c in candidates if c.selection]
    passing = [(c, v) for c, v in verdicts if v.accepted]
    if passing:
        return max(passing, key=lambda cv: (cv[1].mean, -len(cv[0].selection)))
    held = [v for _, v in verdicts if v.held_by_oba]
    if held:
        return None, max(held, key=lambda v: v.mean)
    return None, (verdicts[0][1] if verdicts else None)
