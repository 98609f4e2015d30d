"""KB-guided multi-phase ensemble (method Part A §11, Part B §7).

A goal (one class's metric, or several classes' metrics) becomes a plan of phases (source class, strategy,
objective). With a knowledge map for the dataset, the plan takes the goal class's best (strategy, objective) and
the cross-class sources whose synthetic data raised the goal class's validation CBA most; without one, the default
rules: small or low-recall classes → GA, medium → SW, large → HSW (and a second, different strategy).

Phases run on a cumulative training set. A phase searches with its own objective; its winner is the candidate best
by the *goal* (``winner="goal"``; ``"objective"``: best by the phase's own objective, the paper's choice). With
``rule=AcceptRule()`` (``"paired"``, :mod:`autogets.search.robust`) the winner or "add all", whichever gains more,
is accepted only if its gain over the current set is positive across folds beyond noise and OBA does not drop beyond
a tolerance; and if the final set scores below M0 by the same fitness, everything is reverted. ``"no_drop"`` keeps
the paper's rule (accept if the goal does not drop). Otherwise the phase is reverted and the training set stays as
it was. Every decision is logged with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from autogets.executor import Executor, SerialExecutor
from autogets.metrics import Metrics
from autogets.search import Budget, Evaluation, Evaluator, SearchResult, make_strategy, run_strategy
from autogets.search.objectives import MetricObjective, MultiObjective, Objective, make_objective
from autogets.search.representation import ClassView
from autogets.search.robust import AcceptRule, choose, fold_gains, goal_winner

WINNERS = ("goal", "objective")


@dataclass(frozen=True)
class Phase:
    source: str
    strategy: str
    objective: str
    reason: str

    def label(self) -> str:
        return f"{self.strategy.upper()} on {self.source} ({self.objective})"


def rule_strategy(cls: str, train_counts: dict[str, int], recall: dict[str, float]) -> tuple[str, str]:
    """The default rule of Part A §11, with its reason."""
    largest = max(train_counts.values())
    mean_recall = float(np.mean(list(recall.values())))
    size, rec = train_counts[cls], recall[cls]
    if size <= 0.2 * largest or rec < mean_recall - 0.05:
        return "ga", f"{cls} is small ({size} training examples) or low-recall ({rec:.2f}): GA"
    if size >= 0.8 * largest:
        return "hsw", f"{cls} is large ({size} training examples): HSW"
    return "sw", f"{cls} is medium-sized ({size} training examples): SW"


def plan_phases(goal_class: str, objective: str, *, train_counts: dict[str, int], val_recall: dict[str, float],
                knowledge: pd.DataFrame | None = None, max_phases: int = 3) -> tuple[list[Phase], str]:
    """The phases for a goal and where they came from (``"knowledge map"`` or ``"default rules"``)."""
    if knowledge is not None and not knowledge.empty and goal_class in set(knowledge["class"]):
        own = knowledge[knowledge["class"] == goal_class].sort_values(["val_gain", "evaluations"],
                                                                      ascending=[False, True])
        best = own.iloc[0]
        phases = [Phase(goal_class, best["strategy"], best["objective"],
                        f"knowledge map: best for {goal_class} ({best['strategy'].upper()}, {best['objective']}, "
                        f"validation gain {best['val_gain']:+.4f})")]
        cross = knowledge[knowledge["class"] != goal_class].copy()
        if not cross.empty:
            cross["effect"] = cross["effects"].map(lambda e: float(e.get(goal_class, 0.0)))
            cross = cross[cross["effect"] > 0].sort_values("effect", ascending=False)
            for _, row in cross.drop_duplicates("class").head(max_phases - 1).iterrows():
                phases.append(Phase(row["class"], row["strategy"], row["objective"],
                                    f"knowledge map: synthetic {row['class']} data raised {goal_class} CBA by "
                                    f"{row['effect']:+.4f} on validation"))
        return phases, "knowledge map"
    strategy, why = rule_strategy(goal_class, train_counts, val_recall)
    second = "sw" if strategy != "sw" else "hsw"
    phases = [Phase(goal_class, strategy, objective, f"default rules: {why}"),
              Phase(goal_class, second, objective, f"default rules: a second pass with {second.upper()} on the "
                                                   f"accepted training set")]
    return phases[:max_phases], "default rules"


@dataclass(frozen=True)
class Decision:
    phase: Phase
    accepted: bool
    reason: str
    goal_before: float
    goal_after: float
    added_sources: int
    added_texts: int
    evaluations: int
    result: SearchResult = field(repr=False, compare=False)
    reused: int = 0  # evaluations served from an interrupted attempt, not refitted
    held_by_oba: dict | None = None  # reverted only for OBA: {"gain", "oba_change", "accuracy_change"} (fitness)

    def to_dict(self) -> dict:
        return {"phase": self.phase.label(), "source": self.phase.source, "strategy": self.phase.strategy,
                "objective": self.phase.objective, "why": self.phase.reason, "accepted": self.accepted,
                "decision": self.reason, "goal_before": self.goal_before, "goal_after": self.goal_after,
                "added_sources": self.added_sources, "added_texts": self.added_texts,
                "evaluations": self.evaluations, "held_by_oba": self.held_by_oba,
                "best_so_far": list(np.maximum.accumulate(self.result.gains()).tolist()) if self.result.history
                else []}


def goal_value(goal: Objective, e: Evaluation, reference: Evaluation) -> float:
    """The goal metric of ``e`` (single goal) or its mean goal change vs ``reference`` (several goals)."""
    if isinstance(goal, MetricObjective):
        return goal.value(e)
    return goal.gain(e, reference)


def accepts(goal: Objective, candidate: Evaluation, current: Evaluation) -> tuple[bool, str]:
    """Part A §11: accept only if the goal does not drop on validation (and the phase adds something)."""
    if not candidate.selection:
        return False, "reverted: the phase found nothing better than the current training set"
    if isinstance(goal, MultiObjective):
        ok = goal.key(candidate, current)[0] == 1.0
        return (True, "accepted: no goal and no overall F1 dropped") if ok else (
            False, "reverted: a goal metric or overall F1 dropped on validation")
    before, after = goal_value(goal, current, current), goal_value(goal, candidate, current)
    if after + 1e-12 >= before:
        return True, f"accepted: goal {goal.name} {before:.4f} → {after:.4f} on validation"
    return False, f"reverted: goal {goal.name} would drop {before:.4f} → {after:.4f} on validation"


@dataclass(frozen=True)
class EnsembleOutcome:
    decisions: list[Decision]
    base_rows: np.ndarray
    accepted_selection: dict[str, frozenset[int]]
    final_validation: Metrics
    m0_validation: Metrics
    final_check: str = ""


def run_phases(problem, views: dict[str, ClassView], goal: Objective, phases: Sequence[Phase], *,
               budget: Callable[[], Budget], executor: Executor | None = None, seed: int = 42,
               on_evaluation: Callable[[int, Evaluation], None] | None = None,
               on_decision: Callable[[Decision], None] | None = None,
               completed: Sequence[frozenset[int] | None] = (),
               known: Callable[[int], dict[frozenset[int], tuple]] | None = None,
               on_raw: Callable[[int, frozenset[int], tuple], None] | None = None,
               rule: AcceptRule | None = None, winner: str = "goal") -> EnsembleOutcome:
    """Run ``phases`` on a cumulative training set over one feature matrix (``problem`` holds every source's
    synthetic rows in ``synth_rows``; ``views`` the PCA view of each source class). ``executor`` (owned by the
    caller) evaluates every phase's candidates; serial when not given.

    Resuming: ``completed[k]`` is the outcome of phase ``k`` from an earlier attempt (the accepted selection, or
    None if it was reverted); those phases are applied, not searched again, and yield no new :class:`Decision`.
    ``known(k)`` gives phase ``k``'s raw evaluations from an interrupted attempt (reused, see :class:`Evaluator`);
    ``on_raw(k, selection, raw)`` sees every newly computed one.

    ``rule`` (default :class:`AcceptRule`, paired) and ``winner`` decide what a phase keeps (module docstring)."""
    if winner not in WINNERS:
        raise ValueError(f"unknown winner {winner!r}; one of {', '.join(WINNERS)}")
    rule = (rule or AcceptRule()).for_problem(problem)
    code = {c: i for i, c in enumerate(problem.classes)}
    base_rows = problem.base()
    labels_of = {sid: problem.classes[int(problem.y[rows[0]])] for sid, rows in problem.synth_rows.items()}
    accepted: dict[str, frozenset[int]] = {}
    decisions: list[Decision] = []
    current: Evaluation | None = None
    m0: Evaluation | None = None
    for k, phase in enumerate(phases):
        taken = set().union(*accepted.values()) if accepted else set()
        rows = {sid: r for sid, r in problem.synth_rows.items() if labels_of[sid] == phase.source and sid not in taken}
        if k < len(completed):
            done = completed[k]
            if done:
                base_rows = np.concatenate([base_rows, *[rows[i] for i in sorted(done)]])
                accepted[phase.source] = accepted.get(phase.source, frozenset()) | done
            continue
        phase_problem = replace(problem, synth_rows=rows, target=code[phase.source], base_rows=base_rows)
        objective = make_objective(phase.objective, phase.source)
        evaluator = Evaluator(phase_problem, objective, budget(), executor or SerialExecutor(),
                              on_evaluation=(lambda e, k=k: on_evaluation(k, e)) if on_evaluation else None,
                              known=known(k) if known else None,
                              on_raw=(lambda sel, raw, k=k: on_raw(k, sel, raw)) if on_raw else None)
        result = run_strategy(make_strategy(phase.strategy, seed=seed + k), views[phase.source], evaluator)
        reference = result.baseline
        if m0 is None:
            m0 = reference
        current = reference
        best = result.best if winner == "objective" else goal_winner(goal, [reference, *result.history], current)
        held = None
        if rule.rule == "no_drop":
            ok, why = accepts(goal, best, current)
        else:
            everything = [e for e in result.history if e.selection == evaluator.pool]
            chosen, v = choose(goal, [best, *everything], current, rule)
            ok = chosen is not None
            if ok:
                best = chosen
                kind = "add all" if chosen.selection == evaluator.pool else "the search's best"
                why = f"accepted ({kind}): goal {goal.name} {v.reason}"
            else:
                why = (f"reverted: goal {goal.name} {v.reason}" if v is not None else
                       "reverted: the phase found nothing better than the current training set")
                if v is not None and v.held_by_oba:
                    held = {"gain": v.mean, "oba_change": v.oba_change, "accuracy_change": v.accuracy_change}
        before, after = goal_value(goal, current, current), goal_value(goal, best, current)
        result = replace(result, best=best)
        added = sum(len(rows[i]) for i in best.selection) if ok else 0
        if ok:
            base_rows = np.concatenate([base_rows, *[rows[i] for i in sorted(best.selection)]])
            accepted[phase.source] = accepted.get(phase.source, frozenset()) | best.selection
            current = best
        decision = Decision(phase, ok, why, before, after, len(best.selection) if ok else 0, added,
                            result.evaluations, result, evaluator.reused, held)
        decisions.append(decision)
        if on_decision:
            on_decision(decision)
    check = ""
    if rule.rule == "paired" and accepted and current is not None and m0 is not None and current is not m0:
        if float(fold_gains(goal, current, m0).mean()) < 0:  # never return a model our own fitness puts below M0
            base_rows, accepted, current = problem.base(), {}, m0
            check = "reverted to M0: the final training set scores below M0 on the fitness"
        else:
            check = "the final training set scores at least M0 on the fitness"
    final = current.metrics if current is not None else None
    return EnsembleOutcome(decisions=decisions, base_rows=base_rows, accepted_selection=accepted,
                           final_validation=final, m0_validation=m0.metrics if m0 else None, final_check=check)


def decisions_json(decisions: Sequence[Decision]) -> str:
    return json.dumps([d.to_dict() for d in decisions])
