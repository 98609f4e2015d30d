"""The cross-validation folds of the cv fitness (method Part B): which real rows each fold holds out.

One authority for two users: :func:`autogets.pipeline.build_problem` holds these folds out, and the few-shot
generator draws a source's shots from rows that share its folds (:func:`shot_affinity`), fixed before generation.
A synthetic text trained in a fold must not have seen, as its source or as a shot, a row that fold holds out
(issue 23 item 3); when its shots share its source's folds, that costs no extra folds.

Each class's rows (train + validation) are shuffled with the seed and dealt into ``2 × folds`` groups; in repeat 0,
fold ``k`` holds out groups ``2k`` and ``2k + 1``, in repeat 1 groups ``2k + 1`` and ``2k + 2`` (cyclically), and
any further repeat a seeded pairing. So folds stay stratified (a class's count differs by at most 2 between folds,
and its first ``folds`` rows land in distinct folds of every repeat), the two repeats differ, and the rows of one
group share their fold in both repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autogets.errors import SearchError

FOLDS = 5
"""Folds per repeat of the cv fitness (method Part B)."""
REPEATS = 2
"""Repeats of the cv fitness (method Part B)."""


def fold_count(labels: Sequence, folds: int = FOLDS) -> int:
    """``folds``, or fewer for a tiny class (as many folds as its rows); raises when a class has one row."""
    if folds < 2:
        raise SearchError("cross-validation needs folds ≥ 2 and repeats ≥ 1")
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    smallest = int(counts.min()) if len(counts) else 0
    if smallest < 2:
        raise SearchError(f"cross-validation needs 2 labelled examples per class; the smallest class has {smallest}")
    return min(folds, smallest)


def assign_folds(labels: Sequence, *, folds: int = FOLDS, repeats: int = REPEATS, seed: int = 0) -> np.ndarray:
    """``repeats × n`` array: the fold (0 … folds − 1) that holds out each row in each repeat (see the module)."""
    if repeats < 1:
        raise SearchError("cross-validation needs folds ≥ 2 and repeats ≥ 1")
    folds = fold_count(labels, folds)
    labels = np.asarray(labels)
    n_groups = 2 * folds
    deal = np.r_[np.arange(0, n_groups, 2), np.arange(1, n_groups, 2)]  # evens first: early rows in distinct folds
    rng = np.random.default_rng(seed)
    group = np.empty(len(labels), dtype=np.int64)
    for cls in dict.fromkeys(labels.tolist()):  # first appearance: the same order for names and their codes
        rows = np.flatnonzero(labels == cls)
        rows = rows[rng.permutation(len(rows))]
        group[rows] = deal[np.arange(len(rows)) % n_groups]
    out = np.empty((repeats, len(labels)), dtype=np.int64)
    for r in range(repeats):
        if r < 2:
            fold_of_group = ((np.arange(n_groups) - r) % n_groups) // 2
        else:
            fold_of_group = np.empty(n_groups, dtype=np.int64)
            fold_of_group[rng.permutation(n_groups)] = np.arange(n_groups) // 2
        out[r] = fold_of_group[group]
    return out


def held_out(assignment: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows each fold holds out, repeat by repeat (the order the fitness sums them in)."""
    folds = int(assignment.max()) + 1 if assignment.size else 0
    return tuple(np.flatnonzero(assignment[r] == k) for r in range(assignment.shape[0]) for k in range(folds))


def shot_affinity(texts: Sequence[str], assignment: np.ndarray) -> Mapping[str, tuple[int, ...]]:
    """For each real text (the rows of ``assignment``), the folds that hold it out, one per repeat: a generator
    that shows shots prefers texts whose tuple equals the source's (:func:`shared_folds`)."""
    return {t: tuple(int(f) for f in assignment[:, i]) for i, t in enumerate(texts)}


def shared_folds(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> int:
    """How many repeats hold ``a`` and ``b`` out in the same fold (0 when either is unknown)."""
    if a is None or b is None:
        return 0
    return sum(x == y for x, y in zip(a, b, strict=False))
