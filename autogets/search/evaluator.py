"""Candidate evaluation under a budget (method Part A §4–5, Part B §2).

A candidate is a set of selected source example ids. Its training set is the real train split plus the cleaned
synthetic children of those ids; the classifier head is refitted on that row selection of a feature matrix computed
once per run, and scored on the **validation** split. The evaluator never holds test rows.

With ``fitness="cv"`` (method Part A §14) the score is not one small split: repeated stratified K-fold over train +
validation. In each fold the head is fitted on the other folds' real rows plus the synthetic children of the
selected sources whose source example is *not* held out (a held-out example never contributes children to the rows
it is scored against), and scored on the held-out rows. A candidate's metrics are those of the pooled out-of-fold
confusion (the mean over folds up to fold-size weights); the per-fold confusions are kept for paired decisions
(:mod:`autogets.search.robust`). The margin tie-breaker is the mean over folds.

Candidates are cached by the (normalised) frozenset of ids: a repeat costs nothing and is not charged, as in the
paper. The budget counts evaluations or seconds of classifier-fit wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from autogets.classifiers import head_scores
from autogets.errors import SearchError
from autogets.executor import Executor, SerialExecutor
from autogets.metrics import Metrics, confusion, metrics_from_confusion
from autogets.search.objectives import Objective


@dataclass(frozen=True)
class Problem:
    """Everything a worker needs to fit and score a candidate. Rows of ``X``: train, then validation, then synthetic.

    ``X`` is the featuriser's output: a sparse or dense matrix, a DataFrame, or (slow path) a 1-D array of texts.
    ``synth_rows`` maps a source example id to the rows of its synthetic children.

    ``fitness``: ``"validation"`` (fit on train, score on validation) or ``"cv"`` (``held_out``: one array of real
    row indices per fold, over all repeats; ``origin``: for every row of ``X``, the real rows it stands for, one
    row of a 2-D array padded with ``n_real`` — itself, or a synthetic text's source example and the real texts its
    prompt showed).
    """

    X: Any
    y: np.ndarray
    n_train: int
    val_rows: np.ndarray
    synth_rows: dict[int, np.ndarray]
    template: Any
    classes: tuple[str, ...]
    target: int
    base_rows: np.ndarray | None = None
    fitness: str = "validation"
    held_out: tuple[np.ndarray, ...] = ()
    origin: np.ndarray | None = None
    gram: Any = None
    """Cached per-fold sums of the real rows (:class:`autogets.search.gram.GramFolds`) when the head is
    :class:`~autogets.classifiers.BalancedRidge` on dense features: a candidate then costs one small solve per
    fold instead of a head fit."""

    @property
    def n_real(self) -> int:
        return self.n_train + len(self.val_rows)

    def real(self) -> np.ndarray:
        """The real rows the fitness trains on (before any fold is held out): train, or train + validation (cv)."""
        return np.arange(self.n_real if self.fitness == "cv" else self.n_train)

    def base(self) -> np.ndarray:
        """Rows every candidate trains on: the real rows, plus synthetic rows an ensemble already accepted."""
        return self.real() if self.base_rows is None else self.base_rows

    def leaks(self, rows: np.ndarray, held: np.ndarray) -> np.ndarray:
        """For each of ``rows``: True when it is, or derives from (its source, or a text its prompt showed), a real
        row in ``held``. The one rule for what a fold may train on; the fast path uses it too."""
        held_mask = np.zeros(self.n_real + 1, dtype=bool)  # slot n_real: origins outside every fold
        held_mask[held] = True
        origin = self.origin[rows]
        return held_mask[origin].any(axis=1) if origin.ndim == 2 else held_mask[origin]

    def rows_for(self, selection: Iterable[int]) -> np.ndarray:
        parts = [self.base()] + [self.synth_rows[i] for i in sorted(selection)]
        return np.concatenate(parts)

    def take(self, rows: np.ndarray) -> Any:
        """Rows of ``X`` (positional, also for a DataFrame)."""
        return self.X.iloc[rows] if hasattr(self.X, "iloc") else self.X[rows]

    def fit_head(self, selection: Iterable[int]):
        """A fresh head fitted on the selection's rows. A template with ``fit_head`` gets the validation rows as
        evaluation set (CatBoost's early stopping, method Part B §2); test rows are never here."""
        rows = self.rows_for(selection)
        fit = getattr(self.template, "fit_head", None)
        if fit is None:
            return self.template.make_head().fit(self.take(rows), self.y[rows])
        return fit(self.take(rows), self.y[rows], eval_set=(self.take(self.val_rows), self.y[self.val_rows]))


def fit_candidate(problem: Problem, selection: tuple[int, ...]) -> tuple[np.ndarray, float, float, int]:
    """Fit on the base rows + the selection's synthetic rows; (confusion, target margin, fit seconds, #synthetic).

    The confusion is K×K on validation, or F×K×K (one per fold) for ``fitness="cv"``. A pure function of its
    arguments, so it can run in any process.
    """
    rows = problem.rows_for(selection)
    n_syn = int(len(rows) - len(problem.real()))
    if problem.gram is not None and _real_part_is(rows, problem):
        from autogets.search.gram import fit_folds

        return fit_folds(problem, rows, n_syn, score_rows)
    if problem.fitness == "cv":
        return _fit_folds(problem, rows, n_syn)
    start = time.perf_counter()
    head = problem.fit_head(selection)
    fit_seconds = time.perf_counter() - start
    matrix, margin = _score(problem, head, problem.val_rows)
    return matrix, margin, fit_seconds, n_syn


def _real_part_is(rows: np.ndarray, problem: Problem) -> bool:
    """True when ``rows`` train on exactly the problem's real rows (what the cached sums were computed for)."""
    real = rows[rows < problem.n_real]
    return len(real) == len(problem.real()) and np.array_equal(np.sort(real), problem.real())


def fold_rows(problem: Problem, rows: np.ndarray, held: np.ndarray) -> np.ndarray:
    """``rows`` without the held-out real rows and without every synthetic row that derives from one."""
    return rows[~problem.leaks(rows, held)]


def _fit_folds(problem: Problem, rows: np.ndarray, n_syn: int) -> tuple[np.ndarray, float, float, int]:
    matrices, margins, seconds = [], [], 0.0
    for held in problem.held_out:
        keep = fold_rows(problem, rows, held)
        start = time.perf_counter()
        head = problem.template.make_head().fit(problem.take(keep), problem.y[keep])
        seconds += time.perf_counter() - start
        matrix, margin = _score(problem, head, held)
        matrices.append(matrix)
        margins.append(margin)
    return np.stack(matrices), float(np.mean(margins)), seconds, n_syn


def _score(problem: Problem, head, eval_rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Confusion on ``eval_rows`` and the target class's mean margin (own score − best other score) there."""
    return score_rows(problem, head_scores(head, problem.take(eval_rows)), np.asarray(head.classes_), eval_rows)


def score_rows(problem: Problem, scores: np.ndarray, classes: np.ndarray, eval_rows: np.ndarray
               ) -> tuple[np.ndarray, float]:
    """:func:`_score` from a head's scores on ``eval_rows`` (columns in the order of ``classes``)."""
    yv = problem.y[eval_rows]
    pred = classes[scores.argmax(axis=1)]
    matrix = confusion(yv, pred, len(problem.classes))
    mine = yv == problem.target
    if mine.any():
        col = int(np.flatnonzero(classes == problem.target)[0])
        own = scores[mine, col]
        rest = np.delete(scores[mine], col, axis=1).max(axis=1)
        return matrix, float(np.mean(own - rest))
    return matrix, 0.0


@dataclass(frozen=True)
class Evaluation:
    """One scored candidate. ``index`` is its position in the charged history (−1: the free baseline)."""

    selection: frozenset[int]
    n_synthetic: int
    metrics: Metrics
    margin: float
    fit_seconds: float
    index: int
    key: tuple[float, ...] = ()
    gain: float = 0.0
    folds: np.ndarray | None = field(default=None, repr=False, compare=False)
    """Per-fold confusions (F×K×K) under ``fitness="cv"``; None for the single validation split."""

    def fold_metrics(self) -> list[Metrics]:
        """Metrics per fold (one entry, the validation split, when there are no folds)."""
        if self.folds is None:
            return [self.metrics]
        return [metrics_from_confusion(m, self.metrics.classes) for m in self.folds]


def evaluation_of(selection: frozenset[int], raw: tuple, classes: tuple[str, ...], index: int) -> Evaluation:
    """An unscored :class:`Evaluation` from :func:`fit_candidate`'s raw result."""
    matrix, margin, seconds, n_syn = raw[:4]
    matrix = np.asarray(matrix)
    folds = matrix if matrix.ndim == 3 else None
    pooled = matrix.sum(axis=0) if folds is not None else matrix
    return Evaluation(selection, int(n_syn), metrics_from_confusion(pooled, classes), float(margin), float(seconds),
                      index, folds=folds)


@dataclass
class Budget:
    """Stop after ``max_evaluations`` charged evaluations or ``max_fit_seconds`` of fit time (None = no limit)."""

    max_evaluations: int | None = None
    max_fit_seconds: float | None = None
    evaluations: int = 0
    fit_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.max_evaluations is None and self.max_fit_seconds is None:
            raise SearchError("a search needs a budget: evaluations or fit seconds")
        if (self.max_evaluations is not None and self.max_evaluations < 1) or (
                self.max_fit_seconds is not None and self.max_fit_seconds <= 0):
            raise SearchError("the budget must be positive")

    @property
    def exhausted(self) -> bool:
        return ((self.max_evaluations is not None and self.evaluations >= self.max_evaluations)
                or (self.max_fit_seconds is not None and self.fit_seconds >= self.max_fit_seconds))

    def remaining_evaluations(self) -> int | None:
        return None if self.max_evaluations is None else max(0, self.max_evaluations - self.evaluations)


@dataclass
class Evaluator:
    """Scores candidates on validation, caching by selection and charging the budget.

    ``on_evaluation`` is called with every newly charged evaluation (e.g. to log it or report progress).
    The executor belongs to the caller (who closes it), so one process pool can serve many evaluators.

    ``known`` holds raw results of :func:`fit_candidate` from an earlier, interrupted attempt at the same search
    (selection → (confusion, margin, fit seconds, #synthetic)): such a candidate is charged to the budget as before,
    so a seeded strategy takes the same path, but it is not refitted (counted in :attr:`reused`). ``on_raw`` is
    called with each newly computed raw result, so a caller can store it.
    """

    problem: Problem
    objective: Objective
    budget: Budget
    executor: Executor = field(default_factory=SerialExecutor)
    on_evaluation: Callable[[Evaluation], None] | None = None
    known: dict[frozenset[int], tuple] | None = None
    on_raw: Callable[[frozenset[int], tuple], None] | None = None

    def __post_init__(self) -> None:
        self.history: list[Evaluation] = []
        self.reused = 0
        self._cache: dict[frozenset[int], Evaluation] = {}
        self.executor.start(self.problem)
        (base,) = self.executor.map(fit_candidate, [()])
        self.baseline = self._scored(evaluation_of(frozenset(), base, self.problem.classes, -1))
        self._cache[frozenset()] = self.baseline

    @property
    def pool(self) -> frozenset[int]:
        """Source ids that have at least one synthetic child (the only ones whose selection changes anything)."""
        return frozenset(self.problem.synth_rows)

    def normalise(self, selection: Iterable[int]) -> frozenset[int]:
        return frozenset(int(i) for i in selection) & self.pool

    def _scored(self, e: Evaluation) -> Evaluation:
        base = getattr(self, "baseline", e)
        return replace(e, key=self.objective.key(e, base), gain=self.objective.gain(e, base))

    @property
    def exhausted(self) -> bool:
        return self.budget.exhausted

    def evaluate(self, selections: Sequence[Iterable[int]]) -> list[Evaluation | None]:
        """Evaluations in input order; ``None`` for a candidate the budget did not allow."""
        keys = [self.normalise(s) for s in selections]
        pending = list(dict.fromkeys(k for k in keys if k not in self._cache))
        remaining = self.budget.remaining_evaluations()
        if remaining is not None:
            pending = pending[:remaining]
        step = len(pending) if self.budget.max_fit_seconds is None else max(1, self.executor.workers)
        for start in range(0, len(pending), max(1, step)):
            if self.budget.exhausted:
                break
            chunk = pending[start:start + step]
            for k, raw in zip(chunk, self._fit(chunk), strict=True):
                e = self._scored(evaluation_of(k, raw, self.problem.classes, len(self.history)))
                self.budget.evaluations += 1
                self.budget.fit_seconds += e.fit_seconds
                self.history.append(e)
                self._cache[k] = e
                if self.on_evaluation is not None:
                    self.on_evaluation(e)
        return [self._cache.get(k) for k in keys]

    def _fit(self, chunk: list[frozenset[int]]) -> list[tuple]:
        """Raw results for ``chunk``: from :attr:`known` where an earlier attempt computed them, else fitted."""
        known = self.known or {}
        todo = [k for k in chunk if k not in known]
        fitted = dict(zip(todo, self.executor.map(fit_candidate, [tuple(sorted(k)) for k in todo]), strict=True))
        if self.on_raw is not None:
            for k, raw in fitted.items():
                self.on_raw(k, raw)
        self.reused += len(chunk) - len(todo)
        return [known[k] if k in known else fitted[k] for k in chunk]

    def best(self) -> Evaluation:
        """The best evaluation so far by the objective's key, the baseline ("none") included."""
        return max([self.baseline, *self.history], key=lambda e: (e.key, -e.index if e.index >= 0 else 1))
