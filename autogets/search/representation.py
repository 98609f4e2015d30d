"""The search's view of the data (method Part B §4.1): TF-IDF → PCA-20 → 190 PCA pairs; per target class its
training points, coloured red (M0 wrong) or blue (M0 right).

Deviation, for no leakage (Part A §2): TF-IDF and PCA are fitted on the train and validation texts, not on test.
PCA runs on the sparse TF-IDF matrix with the ARPACK solver (an exact, centred PCA; no densifying).

A small data set gets fewer components: at most one less than its train + validation rows (a centred PCA has no
more) and than its features (ARPACK needs fewer than both); below 2 there is no PCA pair and so no search
(:class:`autogets.errors.DataError`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer

from autogets.errors import DataError

MIN_COMPONENTS = 2
"""Fewest PCA components a search needs: one pair."""


@dataclass(frozen=True)
class ClassView:
    """The target class's training examples in PCA space."""

    target: str
    pool_ids: np.ndarray
    coords: np.ndarray
    correct: np.ndarray
    other_coords: np.ndarray

    @property
    def n_components(self) -> int:
        return self.coords.shape[1]

    def pairs(self) -> list[tuple[int, int]]:
        """All PCA pairs in lexicographic order: (0, 1), (0, 2), …"""
        return list(itertools.combinations(range(self.n_components), 2))

    def xy(self, pair: tuple[int, int]) -> np.ndarray:
        return self.coords[:, list(pair)]


def pca_coordinates(fit_texts: Sequence[str], texts: Sequence[str], *, n_components: int = 20,
                    random_state: int = 42, featurizer=None) -> np.ndarray:
    """TF-IDF (defaults) — or the fitted ``featurizer``'s dense features (sentence embeddings) — + PCA fitted on
    ``fit_texts``; coordinates of ``texts``. ``n_components`` is the most; a small data set gets fewer (see the
    module's docstring), and fewer than 2 is a one-line :class:`DataError`."""
    if featurizer is not None:
        X = np.asarray(featurizer.transform(list(fit_texts)), dtype=np.float64)
        pca = PCA(n_components=_components(n_components, X.shape, sparse=False), svd_solver="full",
                  random_state=random_state)
        pca.fit(X)
        return pca.transform(np.asarray(featurizer.transform(list(texts)), dtype=np.float64))
    try:
        tfidf = TfidfVectorizer().fit(fit_texts)
    except ValueError:  # "empty vocabulary": no text has a word of two characters or more
        raise DataError(f"the data set is too small for a search: its {len(fit_texts)} train + validation texts "
                        "have no words to build the PCA map from") from None
    X = tfidf.transform(fit_texts)
    pca = PCA(n_components=_components(n_components, X.shape, sparse=True), svd_solver="arpack",
              random_state=random_state)
    pca.fit(X)
    return pca.transform(tfidf.transform(texts))


def _components(most: int, shape: tuple[int, int], *, sparse: bool) -> int:
    """PCA components for a fit matrix of ``shape``: ``most``, at most rows − 1, and at most features − 1 for
    ARPACK (``sparse``; it needs fewer than both) or features for the full solver."""
    rows, features = shape
    k = min(most, rows - 1, features - 1 if sparse else features)
    if k < MIN_COMPONENTS:
        what = "distinct words" if sparse else "features"
        raise DataError(f"the data set is too small for a search: {rows} train + validation texts with {features} "
                        f"{what} allow {max(k, 0)} PCA component(s), and a search needs at least {MIN_COMPONENTS} "
                        "(one PCA pair); add examples")
    return k


def class_view(target: str, train_ids: np.ndarray, train_labels: np.ndarray, train_coords: np.ndarray,
               m0_train_pred: np.ndarray) -> ClassView:
    """Red/blue view of ``target``'s training points (grey = the other classes, for plots only)."""
    mask = np.asarray(train_labels) == target
    return ClassView(target=target, pool_ids=np.asarray(train_ids)[mask], coords=train_coords[mask],
                     correct=np.asarray(m0_train_pred)[mask] == target, other_coords=train_coords[~mask])
