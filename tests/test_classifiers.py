from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

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
    with pytest.raises(ConfigError, match="unknown classifier 'nope'"):
        make_classifier("nope")
    with pytest.raises(ConfigError, match="unknown linear model"):
        TfidfLinearClassifier(model="tree").make_head()
