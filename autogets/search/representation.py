"""The search's view of the data (method Part B §4.1): TF-IDF → PCA-20 → 190 PCA pairs; per target class its
training points, coloured red (M0 wrong) or blue (M0 right).

Deviation, for no leakage (Part A §2): TF-IDF and PCA are fitted on the train and validation texts, not on test.
PCA runs on the sparse TF-IDF matrix with the ARPACK solver (an exact, centred PCA; no densifying).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import TfidfVectorizer


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
    ``fit_texts``; coordinates of ``texts``."""
    if featurizer is not None:
        pca = PCA(n_components=n_components, svd_solver="full", random_state=random_state)
        pca.fit(np.asarray(featurizer.transform(list(fit_texts)), dtype=np.float64))
        return pca.transform(np.asarray(featurizer.transform(list(texts)), dtype=np.float64))
    tfidf = TfidfVectorizer().fit(fit_texts)
    pca = PCA(n_components=n_components, svd_solver="arpack", random_state=random_state)
    pca.fit(tfidf.transform(fit_texts))
    return pca.transform(tfidf.transform(texts))


def class_view(target: str, train_ids: np.ndarray, train_labels: np.ndarray, train_coords: np.ndarray,
               m0_train_pred: np.ndarray) -> ClassView:
    """Red/blue view of ``target``'s training points (grey = the other classes, for plots only)."""
    mask = np.asarray(train_labels) == target
    return ClassView(target=target, pool_ids=np.asarray(train_ids)[mask], coords=train_coords[mask],
                     correct=np.asarray(m0_train_pred)[mask] == target, other_coords=train_coords[~mask])
