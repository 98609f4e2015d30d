from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from autogets.classifiers import Classifier, TfidfLinearClassifier, make_classifier
from autogets.data import load_dataset, split_dataset
from autogets.errors import ConfigError


@pytest.fixture(scope="module")
def trec_split():
    return split_dataset(load_dataset("trec6"), seed=42)


def test_clone_round_trips_parameters():
    clf = TfidfLinearClassifier(C=0.3, char_ngram_range=(2, 4), class_weight="balanced")
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert isinstance(twin, Classifier)


def test_default_learns_trec6(trec_split):
    clf = make_classifier().fit(trec_split.train["text"].tolist(), trec_split.train["label"])
    acc = float(np.mean(clf.predict(trec_split.test["text"].tolist()) == trec_split.test["label"]))
    assert acc > 0.8
    proba = clf.predict_proba(trec_split.test["text"].tolist()[:5])
    assert proba.shape == (5, 6) and np.allclose(proba.sum(axis=1), 1)


def test_two_stage_fit_equals_plain_fit(trec_split):
    texts, labels = trec_split.train["text"].tolist(), trec_split.train["label"].to_numpy()
    plain = TfidfLinearClassifier().fit(texts, labels)
    template = TfidfLinearClassifier()
    featurizer = template.make_featurizer().fit(texts)
    head = template.make_head().fit(featurizer.transform(texts), labels)
    staged = TfidfLinearClassifier().with_fitted(featurizer, head)
    probe = trec_split.validation["text"].tolist()
    assert np.array_equal(plain.predict(probe), staged.predict(probe))


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="unknown classifier 'nope'; choose one of .*or module:factory"):
        make_classifier("nope")
    with pytest.raises(ConfigError, match="unknown linear model"):
        TfidfLinearClassifier(model="tree").make_head()


def test_every_classifier_clones_with_its_parameters():
    from autogets.classifiers import CatBoostTextClassifier, EstimatorClassifier, FeaturizerHeadClassifier

    pair = FeaturizerHeadClassifier(featurizer=TfidfVectorizer(min_df=2), head=LinearSVC(C=0.5))
    for clf in (CatBoostTextClassifier(iterations=7, depth=3), pair,
                EstimatorClassifier(estimator=make_pipeline(TfidfVectorizer(), LinearSVC()))):
        twin = clone(clf)
        assert repr(twin) == repr(clf) and twin is not clf and isinstance(twin, Classifier)
    assert clone(pair).make_head().C == 0.5


def test_head_scores_binary_decision_and_fallbacks():
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.neighbors import NearestCentroid

    from autogets.classifiers import head_scores

    X = np.array([[3, 0], [2, 1], [0, 3], [1, 2]], dtype=float)
    y = np.array([0, 0, 1, 1])
    svm = LinearSVC().fit(X, y)
    s = head_scores(svm, X)
    assert s.shape == (4, 2) and np.array_equal(s.argmax(axis=1), svm.predict(X))
    nb = MultinomialNB().fit(X, y)
    assert np.allclose(head_scores(nb, X), nb.predict_proba(X))

    class OnlyPredict:  # no decision_function, no predict_proba: one-hot predictions
        classes_ = np.array([0, 1])

        def predict(self, X):
            return NearestCentroid().fit(X, y).predict(X)

    assert np.array_equal(head_scores(OnlyPredict(), X), np.eye(2)[[0, 0, 1, 1]])


def test_binary_data_set_search_runs(tmp_path):
    """A binary LinearSVC has a 1-D decision_function; the evaluator must still score candidates."""
    from autogets.generators.base import Synthetic
    from autogets.pipeline import build_problem
    from autogets.search import Budget, Evaluator
    from autogets.search.objectives import make_objective

    split = split_dataset(load_dataset("sms_spam"), seed=42)
    spam = split.train[split.train["label"] == "spam"]
    synthetic = [Synthetic(source_id=int(r.id), sample_index=0, text=r.text + " now", label="spam", generator="t",
                           model="t", prompt_version="v") for r in spam.head(20).itertuples()]
    prepared = build_problem(split, synthetic, "spam")
    ev = Evaluator(prepared.problem, make_objective("recall", "spam"), Budget(max_evaluations=2))
    (everything,) = ev.evaluate([ev.pool])
    assert everything.n_synthetic == 20 and everything.margin != 0
    assert everything.metrics.support.sum() == len(split.validation)


class _BlasProbe(LinearSVC):
    """A head that records how many BLAS threads it was fitted with."""

    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        self.blas_threads_ = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        return super().fit(X, y)


def test_head_fits_use_one_blas_thread(trec_split):
    from autogets.classifiers import FeaturizerHeadClassifier

    clf = FeaturizerHeadClassifier(featurizer=TfidfVectorizer(), head=_BlasProbe())
    clf.fit(trec_split.train["text"].tolist()[:200], trec_split.train["label"].to_numpy()[:200])
    assert clf.head_.blas_threads_ == {1}


def test_an_embedding_model_pickled_before_the_tfidf_block_still_describes_and_clones():
    """Models registered before ``tfidf_components`` existed unpickle without that attribute."""
    import pickle

    from sklearn.base import clone

    from autogets.classifiers import EmbeddingClassifier

    old = EmbeddingClassifier()
    del old.tfidf_components  # as a pickle from before the parameter existed
    again = pickle.loads(pickle.dumps(old))
    assert again.describe() == "MiniLM + balanced ridge"
    assert clone(again).get_params()["tfidf_components"] == 0
