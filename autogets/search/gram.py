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
    held_X: tuple[np.ndarray, ...] = () # per fold, the scored rows of ``Xa`` (contiguous, so scoring copies nothing)


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
                     class_gram=class_gram, class_sum=class_sum,
                     held_X=tuple(np.ascontiguousarray(Xa[h]) for h in held))


def solve_fold(gram: GramFolds, f: int, added: dict[int, tuple[np.ndarray, np.ndarray, int]]) -> np.ndarray:
    """The fold's ridge solution W ((d+1) × K) with synthetic rows added to classes: ``added[c] = (T_c, t_c,
    s_c)``, the outer-product sum, the row sum and the count of class ``c``'s synthetic rows kept in the fold."""
    G, B = gram.A[f].copy(), gram.a[f].copy()
    n = gram.counts[f].copy()
    for c, (T, t, count) in added.items():
        if not count:
            continue
        n_new = n[c] + count
        g_old, m_old = gram.class_gram[c][f], gram.class_sum[f, c]
        G += g_old * (1.0 / n_new - 1.0 / n[c])
        G += T * (1.0 / n_new)
        B += np.outer(m_old * (1.0 / n_new - 1.0 / n[c]) + t / n_new, gram.targets[c])
        n[c] = n_new
    scale = n.sum() / gram.n_classes
    G *= scale
    B *= scale
    return solve_ridge(G, B, gram.alpha, overwrite=True)


def fit_folds(problem, rows: np.ndarray, n_syn: int, score) -> tuple[np.ndarray, float, float, int]:
    """The evaluator's cv/validation result for ``rows`` from the cached sums: (F × K × K confusions — or K × K for
    the validation fitness —, mean target margin, solve seconds, #synthetic). ``score(problem, scores, classes,
    eval_rows)`` turns a fold's decision values into its confusion and target margin."""
    with one_blas_thread():
        return _fit_folds(problem, problem.gram, rows[rows >= problem.n_real], n_syn, score)


def _class_sums(Xa: np.ndarray, y: np.ndarray, rows: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    out = {}
    for c in np.unique(y[rows]):
        S = Xa[rows[y[rows] == c]]
        out[int(c)] = (S.T @ S, S.sum(axis=0), len(S))
    return out


def _fit_folds(problem, gram: GramFolds, syn: np.ndarray, n_syn: int, score):
    start = time.perf_counter()
    total = _class_sums(gram.Xa, problem.y, syn)  # every synthetic row once; each fold subtracts its held-out part
    classes = np.arange(gram.n_classes)
    matrices, margins = [], []
    seconds = time.perf_counter() - start
    for f, held in enumerate(gram.held):
        start = time.perf_counter()
        added = total
        if problem.origin is not None and len(syn):
            out = syn[problem.leaks(syn, held)]
            if len(out):
                removed = _class_sums(gram.Xa, problem.y, out)
                added = {c: (T - removed[c][0], t - removed[c][1], k - removed[c][2]) if c in removed else (T, t, k)
                         for c, (T, t, k) in total.items()}
        W = solve_fold(gram, f, added)
        scores = gram.held_X[f] @ W
        seconds += time.perf_counter() - start
        matrix, margin = score(problem, scores, classes, held)
        matrices.append(matrix)
        margins.append(margin)
    if problem.fitness != "cv":
        return matrices[0], margins[0], seconds, n_syn
    return np.stack(matrices), float(np.mean(margins)), seconds, n_syn
