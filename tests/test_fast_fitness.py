"""The fast fitness on dense features (issue 21): BalancedRidge's closed form, and a candidate scored from cached
per-fold sums equals fitting the same head on the fold's rows (one decision rule for search and registered model)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import RepeatedStratifiedKFold

from autogets.classifiers import BalancedRidge, EmbeddingClassifier
from autogets.pipeline import with_gram
from autogets.search.evaluator import Problem, fit_candidate


def blobs(n_per_class=(40, 25, 12), dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(n_per_class), dim))
    X = np.vstack([c + 0.9 * rng.normal(size=(n, dim)) for c, n in zip(centres, n_per_class, strict=True)])
    y = np.concatenate([np.full(n, k) for k, n in enumerate(n_per_class)])
    order = rng.permutation(len(y))
    return X[order], y[order], centres


def test_balanced_ridge_is_scikit_learns_balanced_ridge_classifier():
    X, y, _ = blobs()
    ours = BalancedRidge(alpha=0.3).fit(X, y)
    theirs = RidgeClassifier(alpha=0.3, class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-8)
    assert (ours.predict(X) == theirs.predict(X)).all()


def test_balanced_ridge_weights_classes_by_their_size():
    """A class ten times smaller still gets predicted where it lies: balanced weights, not counts, decide."""
    X, y, _ = blobs((200, 20), dim=4, seed=3)
    balanced = BalancedRidge().fit(X, y)
    plain = RidgeClassifier(alpha=0.3).fit(X, y)
    recall = lambda m: float((m.predict(X[y == 1]) == 1).mean())  # noqa: E731
    assert recall(balanced) >= recall(plain)


def problem_with_synthetic(fitness: str, *, seed: int = 0, other_class_synthetic: bool = False) -> Problem:
    """A dense problem: 77 real rows (train 60 / validation 17), synthetic children of training rows of class 2
    (and optionally of class 0), with folds and origins as build_problem lays them out."""
    X_real, y_real, centres = blobs(seed=seed)
    rng = np.random.default_rng(seed + 1)
    n_train = 60
    sources = [i for i in range(n_train) if y_real[i] == 2][:6]
    if other_class_synthetic:
        sources += [i for i in range(n_train) if y_real[i] == 0][:3]
    synth_X, synth_y, synth_rows, origin = [], [], {}, []
    row = len(y_real)
    for s in sources:
        for _ in range(3):
            synth_X.append(X_real[s] + 0.5 * rng.normal(size=X_real.shape[1]))
            synth_y.append(y_real[s])
            synth_rows.setdefault(s, []).append(row)
            origin.append(s)
            row += 1
    X = np.vstack([X_real, np.array(synth_X)])
    y = np.concatenate([y_real, np.array(synth_y)])
    problem = Problem(X=X, y=y, n_train=n_train, val_rows=np.arange(n_train, len(y_real)),
                      synth_rows={k: np.array(v) for k, v in synth_rows.items()}, template=EmbeddingClassifier(),
                      classes=("a", "b", "c"), target=2)
    if fitness == "cv":
        cv = RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=seed)
        held = tuple(test for _, test in cv.split(np.zeros(len(y_real)), y_real))
        problem = replace(problem, fitness="cv", held_out=held,
                          origin=np.concatenate([np.arange(len(y_real)), np.array(origin)]).astype(np.int64))
    return with_gram(problem)


@pytest.mark.parametrize("fitness", ["cv", "validation"])
@pytest.mark.parametrize("other_class_synthetic", [False, True])
def test_a_candidate_scored_from_cached_sums_equals_fitting_the_head_on_each_fold(fitness, other_class_synthetic):
    fast = problem_with_synthetic(fitness, other_class_synthetic=other_class_synthetic)
    assert fast.gram is not None
    slow = replace(fast, gram=None)
    rng = np.random.default_rng(7)
    ids = sorted(fast.synth_rows)
    selections = [(), tuple(ids)] + [tuple(sorted(rng.choice(ids, size=k, replace=False))) for k in (1, 2, 4, 5)]
    for selection in selections:
        a, b = fit_candidate(fast, selection), fit_candidate(slow, selection)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == pytest.approx(b[1], abs=1e-9)
        assert a[3] == b[3]


def test_the_fast_path_leaves_out_children_of_held_out_sources():
    """Scored with every child kept in every fold, the result differs: the fold rule is really applied."""
    fast = problem_with_synthetic("cv", seed=2)
    everything = tuple(sorted(fast.synth_rows))
    leaky = replace(fast, origin=np.where(np.arange(len(fast.origin)) < fast.n_real, fast.origin, fast.n_real))
    honest_raw, leaky_raw = fit_candidate(fast, everything), fit_candidate(leaky, everything)
    slow_leaky = fit_candidate(replace(leaky, gram=None), everything)
    np.testing.assert_array_equal(leaky_raw[0], slow_leaky[0])  # same rule, other fold membership
    assert honest_raw[1] != pytest.approx(leaky_raw[1], abs=1e-9)


def test_ensemble_base_rows_with_accepted_synthetic_rows_use_the_fast_path_too():
    fast = problem_with_synthetic("cv", other_class_synthetic=True)
    accepted = np.concatenate([fast.real(), *(fast.synth_rows[s] for s in sorted(fast.synth_rows)[-3:])])
    with_base = replace(fast, base_rows=accepted)
    selection = tuple(sorted(fast.synth_rows)[:2])
    np.testing.assert_array_equal(fit_candidate(with_base, selection)[0],
                                  fit_candidate(replace(with_base, gram=None), selection)[0])


def test_no_cached_sums_for_sparse_features_or_other_heads():
    problem = problem_with_synthetic("validation")
    import scipy.sparse as sp

    assert with_gram(replace(problem, gram=None, X=sp.csr_matrix(problem.X))).gram is None
    assert with_gram(replace(problem, gram=None, template=EmbeddingClassifier(head="logreg"))).gram is None


def test_tfidf_svd_is_dense_deterministic_and_fits_few_texts():
    from autogets.classifiers import TfidfSvd

    texts = ["what is nasa", "who wrote hamlet", "where is paris", "how far is the moon", "what does cpu mean"]
    a = TfidfSvd(n_components=128).fit(texts)
    X = a.transform(texts + ["an unseen question about paris"])
    assert isinstance(X, np.ndarray) and X.shape == (6, 4)  # at most one fewer than the texts
    np.testing.assert_array_equal(X, TfidfSvd(n_components=128).fit(texts).transform(texts + ["an unseen question "
                                                                                                "about paris"]))


def test_minilm_with_tfidf_keeps_the_fast_path_and_its_decision_rule(trec6_slice):
    """``minilm-tfidf`` (what `auto` may pick): dense features, so a candidate is scored from cached sums, with
    the same predictions as fitting the head on every fold."""
    from autogets.classifiers import TFIDF_COMPONENTS
    from autogets.data import load_dataset, split_dataset
    from autogets.generators.base import Synthetic
    from autogets.pipeline import build_problem

    split = split_dataset(load_dataset(None, path=trec6_slice), seed=42)
    abbr = split.train[split.train["label"] == "ABBR"].head(6)
    synthetic = [Synthetic(source_id=int(r.id), sample_index=k, text=f"{r.text} {word}", label="ABBR", generator="t",
                           model="t", prompt_version="v")
                 for r in abbr.itertuples() for k, word in enumerate(("please", "exactly"))]
    fast = build_problem(split, synthetic, "ABBR", classifier="minilm-tfidf", fitness="cv").problem
    assert isinstance(fast.X, np.ndarray) and fast.X.shape[1] == 384 + TFIDF_COMPONENTS
    assert fast.gram is not None
    slow = replace(fast, gram=None)
    ids = sorted(fast.synth_rows)
    for selection in [(), tuple(ids), tuple(ids[::2])]:
        a, b = fit_candidate(fast, selection), fit_candidate(slow, selection)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == pytest.approx(b[1], abs=1e-9)
