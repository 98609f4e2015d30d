"""``--classifier auto`` (issue 21): pick M0's classifier per data set and split by the product's own
cross-validation.

Every candidate of :data:`~autogets.classifiers.AUTO_CANDIDATES` is scored as a search scores a candidate with no
synthetic text (:func:`autogets.search.evaluator.fit_candidate` under ``fitness="cv"``: repeated stratified folds of
train + validation, the same folds for every classifier); the pooled out-of-fold confusion gives each one's macro
CBA, and with a goal class that class's CBA. The choice is the best by the goal class's CBA when one is given, ties
(within :data:`TIE`) broken by macro CBA, else by macro CBA; a remaining tie keeps the earlier candidate (TF-IDF
first, the cheaper model). The test split is never read here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from autogets.classifiers import AUTO, AUTO_CANDIDATES, describe
from autogets.data import Split
from autogets.metrics import metrics_from_confusion

TIE = 0.001
"""Two cross-validated CBAs closer than this count as a tie."""


@dataclass(frozen=True)
class ClassifierScore:
    name: str
    description: str
    macro_cba: float
    accuracy: float
    target_cba: float | None
    seconds: float


@dataclass(frozen=True)
class ClassifierChoice:
    """What ``auto`` chose and why; ``scores`` in candidate order."""

    chosen: str
    by: str
    target: str | None
    scores: tuple[ClassifierScore, ...]
    folds: int
    repeats: int

    def score(self, name: str) -> ClassifierScore:
        return next(s for s in self.scores if s.name == name)

    def reason(self) -> str:
        """E.g. "MiniLM + balanced ridge, chosen over TF-IDF + linear SVM by cross-validated macro CBA .977 vs
        .946"."""
        best = self.score(self.chosen)
        others = [s for s in self.scores if s.name != self.chosen]
        if not others:
            return f"{best.description} (the only candidate)"

        def value(s: ClassifierScore) -> float:
            return s.target_cba if self.target is not None and s.target_cba is not None else s.macro_cba

        tied = [s for s in others if abs(value(best) - value(s)) < TIE]
        if len(others) == 1:
            other = others[0]
            if tied and abs(best.macro_cba - other.macro_cba) < TIE:
                return (f"{best.description}, kept over {other.description}: cross-validated {self.by} ties at "
                        f"{_short(value(best))} (a tie keeps the earlier, cheaper candidate)")
            text = (f"{best.description}, chosen over {other.description} by cross-validated {self.by} "
                    f"{_short(value(best))} vs {_short(value(other))}")
        else:
            vs = ", ".join(f"{s.description} {_short(value(s))}" for s in others)
            text = f"{best.description}, chosen by cross-validated {self.by} {_short(value(best))} (vs {vs})"
        return text + "".join(f"; {self._tie(best, s)}" for s in tied)

    def _tie(self, best: ClassifierScore, other: ClassifierScore) -> str:
        """How a tie with ``other`` on the deciding value was settled."""
        if self.target is not None and abs(best.macro_cba - other.macro_cba) >= TIE:
            return (f"the tie with {other.description} broken by macro CBA {_short(best.macro_cba)} vs "
                    f"{_short(other.macro_cba)}")
        return f"a tie with {other.description}, which keeps the earlier, cheaper candidate"

    def to_dict(self) -> dict:
        return {"chosen": self.chosen, "description": self.score(self.chosen).description, "by": self.by,
                "target": self.target, "folds": self.folds, "repeats": self.repeats, "reason": self.reason(),
                "scores": [asdict(s) for s in self.scores]}

    @classmethod
    def from_dict(cls, data: dict) -> ClassifierChoice:
        return cls(chosen=data["chosen"], by=data["by"], target=data.get("target"), folds=data["folds"],
                   repeats=data["repeats"], scores=tuple(ClassifierScore(**s) for s in data["scores"]))


def _short(value: float) -> str:
    """.977 style (as the issue's sentences read)."""
    text = f"{value:.3f}"
    return text[1:] if text.startswith("0.") else text


def score_classifier(split: Split, name: str, *, target: str | None = None, folds: int = 5, repeats: int = 2,
                     seed: int = 42) -> ClassifierScore:
    """``name``'s cross-validated metrics on train + validation (M0: no synthetic text)."""
    from autogets.pipeline import build_problem
    from autogets.search.evaluator import fit_candidate

    start = time.perf_counter()
    prepared = build_problem(split, [], target or split.classes[0], classifier=name, fitness="cv", folds=folds,
                             repeats=repeats, seed=seed)
    matrices = np.asarray(fit_candidate(prepared.problem, ())[0])
    pooled = metrics_from_confusion(matrices.sum(axis=0), split.classes)
    return ClassifierScore(name=name, description=describe(name), macro_cba=float(np.mean(pooled.cba)),
                           accuracy=float(pooled.accuracy),
                           target_cba=None if target is None else float(pooled.value("cba", target)),
                           seconds=round(time.perf_counter() - start, 2))


def choose_classifier(split: Split, *, target: str | None = None, candidates: Sequence[str] = AUTO_CANDIDATES,
                      folds: int = 5, repeats: int = 2, seed: int = 42) -> ClassifierChoice:
    """Score every candidate (:func:`score_classifier`) and pick one (see the module docstring)."""
    if not candidates:
        raise ValueError("no candidate classifiers")
    scores = [score_classifier(split, name, target=target, folds=folds, repeats=repeats, seed=seed)
              for name in candidates]
    best = scores[0]
    for s in scores[1:]:
        if _better(s, best, target):
            best = s
    by = "macro CBA" if target is None else f"CBA of {target}"
    return ClassifierChoice(chosen=best.name, by=by, target=target, scores=tuple(scores), folds=folds,
                            repeats=repeats)


def _better(a: ClassifierScore, b: ClassifierScore, target: str | None) -> bool:
    if target is not None and a.target_cba is not None and b.target_cba is not None:
        if abs(a.target_cba - b.target_cba) >= TIE:
            return a.target_cba > b.target_cba
    return a.macro_cba - b.macro_cba >= TIE


def resolve(name: str, split: Split, *, target: str | None = None, seed: int = 42
            ) -> tuple[str, ClassifierChoice | None]:
    """``name`` itself, or for ``auto`` the chosen classifier and the comparison."""
    if name != AUTO:
        return name, None
    choice = choose_classifier(split, target=target, seed=seed)
    return choice.chosen, choice
