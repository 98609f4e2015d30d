"""The fast fitness on dense features (issue 21): a candidate's folds scored from cached per-fold sums.

With :class:`~autogets.classifiers.BalancedRidge` as head, fitting a fold is solving one (d+1)×(d+1) system whose
matrix and right-hand side are sums over the fold's rows, weighted per class (``n / (K · n_c)``). The real rows'
sums do not depend on the candidate, so they are computed once per problem (:func:`gram_folds`); a candidate only
adds its synthetic rows' outer products and re-weights the classes they belong to, then solves by Cholesky
(:func:`fit_folds`). That is the same system ``BalancedRidge.fit`` solves on the fold's rows — one decision rule for
the fast path and for the model finally registered (a test compares them fold by fold).

Per fold ``f`` and class ``c``: ``G_fc = Σ x̃x̃ᵀ`` and ``m_fc = Σ x̃`` over the fold's fitting real rows of ``c``
(``x̃ = [x, 1]``), ``n_fc`` their count. Kept: ``A_f = Σ_c G_fc / n_fc``, ``a_f = Σ_c m_fc y_cᵀ / n_fc`` (``y_c``
the ±1 target row of ``c``), and ``G_fc``, ``m_fc``, ``n_fc`` for the classes that have synthetic rows. A
candidate adding ``T_c = Σ s̃s̃ᵀ``, ``t_c = Σ s̃`` (``s_c`` rows) to class ``c`` gives, with ``n'_c = n_fc + s_c``
and ``N' = Σ n'_c``::

    G = N'/K · (A_f + Σ_c [(G_fc + T_c) / n'_c − G_fc / n_fc])
    B = N'/K · (a_f + Σ_c [(m_fc + t_c) / n'_c − m_fc / n_fc] y_cᵀ)
    W = (G + α P)⁻¹ B
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from autogets.classifiers import one_blas_thread, solve_ridge


@dataclass(frozen=True)
class GramFolds:
    """Per-fold sums of the real rows (see the module docstring). ``Xa``: every row of the problem's matrix with a
    trailing 1; ``fit_real``/``held``: per fold, the real rows fitted on and the rows scored."""

    alpha: float
    Xa: np.ndarray
    n_classes: int
    targets: np.ndarray                 # K × K: row c is y_c (±1)
    held: tuple[np.ndarray, ...]
    counts: np.ndarray                  # F × K real rows per class in each fold's fitting rows
    A: np.ndarray                       # F × (d+1) × (d+1)
    a: np.ndarray                       # F × (d+1) × K
    class_gram: dict[int, np.ndarray]   # class → F × (d+1) × (d+1), for classes with synthetic rows
    class_sum: np.ndarray               # F × K × (d+1)


class _Linear:
    """A solved fold as a head (``classes_`` = every class code), for the evaluator's scoring."""

    def __init__(self, W: np.ndarray):
        self.W = W
        self.classes_ = np.arange(W.shape[1])

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.W[:-1] + self.W[-1]

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X).argmax(axis=1)


def gram_folds(X: np.ndarray, y: np.ndarray, *, real: np.ndarray, held: tuple[np.ndarray, ...], n_classes: int,
               synthetic_classes: set[int], alpha: float) -> GramFolds | None:
    """The cached sums for folds that fit on ``real`` minus each ``held``; None if a fold misses a class (the
    evaluator then fits heads the ordinary way)."""
    with one_blas_thread():
        return _gram_folds(X, y, real=real, held=held, n_classes=n_classes, synthetic_classes=synthetic_classes,
                           alpha=alpha)


def _gram_folds(X: np.ndarray, y: np.ndarray, *, real: np.ndarray, held: tuple[np.ndarray, ...], n_classes: int,
                synthetic_classes: set[int], alpha: float) -> GramFolds | None:
    Xa = np.hstack([np.asarray(X, dtype=np.float64), np.ones((X.shape[0], 1))])
    d1, K = Xa.shape[1], n_classes
    yr = y[real]
    total_gram = np.zeros((K, d1, d1))
    total_sum = np.zeros((K, d1))
    for c in range(K):
        rows = Xa[real[yr == c]]
        total_gram[c] = rows.T @ rows
        total_sum[c] = rows.sum(axis=0)
    total_count = np.bincount(yr, minlength=K).astype(np.float64)
    targets = -np.ones((K, K))
    np.fill_diagonal(targets, 1.0)
    F = len(held)
    counts = np.zeros((F, K))
    A = np.zeros((F, d1, d1))
    a = np.zeros((F, d1, K))
    class_gram = {c: np.zeros((F, d1, d1)) for c in sorted(synthetic_classes)}
    class_sum = np.zeros((F, K, d1))
    real_set = np.zeros(Xa.shape[0], dtype=bool)
    real_set[real] = True
    for f, rows_held in enumerate(held):
        h = rows_held[real_set[rows_held]]  # held rows that would otherwise be fitted on
        yh = y[h]
        counts[f] = total_count - np.bincount(yh, minlength=K)
        if (counts[f] <= 0).any():
            return None
        for c in range(K):
            rows = Xa[h[yh == c]]
            g = total_gram[c] - rows.T @ rows
            m = total_sum[c] - rows.sum(axis=0)
            A[f] += g / counts[f, c]
            a[f] += np.outer(m, targets[c]) / counts[f, c]
            class_sum[f, c] = m
            if c in class_gram:
                class_gram[c][f] = g
    return GramFolds(alpha=alpha, Xa=Xa, n_classes=K, targets=targets, held=tuple(held), counts=counts, A=A, a=a,
                     class_gram=class_gram, class_sum=class_sum)


def solve_fold(gram: GramFolds, f: int, syn_rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The fold's ridge solution W ((d+1) × K) with ``syn_rows`` (already without the fold's held-out sources)."""
    K = gram.n_classes
    G, B = gram.A[f].copy(), gram.a[f].copy()
    n = gram.counts[f].copy()
    ys = y[syn_rows]
    for c in np.unique(ys):
        S = gram.Xa[syn_rows[ys == c]]
        n_new = n[c] + len(S)
        g_old = gram.class_gram[int(c)][f]
        m_old = gram.class_sum[f, c]
        G += (g_old + S.T @ S) / n_new - g_old / n[c]
        B += np.outer((m_old + S.sum(axis=0)) / n_new - m_old / n[c], gram.targets[c])
        n[c] = n_new
    scale = n.sum() / K
    return solve_ridge(G * scale, B * scale, gram.alpha)


def fit_folds(problem, rows: np.ndarray, n_syn: int, score) -> tuple[np.ndarray, float, float, int]:
    """The evaluator's cv/validation result for ``rows`` from the cached sums: (F × K × K confusions — or K × K for
    the validation fitness —, mean target margin, solve seconds, #synthetic)."""
    with one_blas_thread():
        return _fit_folds(problem, problem.gram, rows[rows >= problem.n_real], n_syn, score)


def _fit_folds(problem, gram: GramFolds, syn: np.ndarray, n_syn: int, score):
    held_mask = np.zeros(problem.n_real + 1, dtype=bool)
    origin = problem.origin
    matrices, margins, seconds = [], [], 0.0
    for f, held in enumerate(gram.held):
        start = time.perf_counter()
        if origin is not None and len(syn):
            held_mask[:] = False
            held_mask[held] = True
            kept = syn[~held_mask[origin[syn]]]
        else:
            kept = syn
        W = solve_fold(gram, f, kept, problem.y)
        seconds += time.perf_counter() - start
        matrix, margin = score(problem, _Linear(W), held)
        matrices.append(matrix)
        margins.append(margin)
    if problem.fitness != "cv":
        return matrices[0], margins[0], seconds, n_syn
    return np.stack(matrices), float(np.mean(margins)), seconds, n_syn
