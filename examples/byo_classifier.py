"""Bring your own classifier: factories for ``--classifier examples.byo_classifier:<factory>``.

Run from the repository root (the current folder is on the import path), e.g.::

    autogets search  --dataset trec6 --class ABBR --classifier examples.byo_classifier:make_pipeline
    autogets improve --dataset trec6 --class ABBR --classifier examples.byo_classifier:make_pair

Both factories build the same model (TF-IDF word 1–2-grams → logistic regression); they differ in how a search
refits a candidate (the protocol is documented in ``autogets/classifiers.py``):

* ``make_pipeline`` returns a scikit-learn ``Pipeline`` on raw texts — the *slow path*: every candidate refits the
  whole pipeline (vectoriser included) on its texts. Any estimator whose ``fit``/``predict`` take texts works.
* ``make_pair`` returns ``(featurizer, head)`` — the *fast path*: the vectoriser is fitted once per run (on train,
  validation and synthetic texts, without labels) and every candidate refits only the head on rows of the cached
  matrix. The featuriser must not need labels.

A factory takes no arguments and returns unfitted objects that ``sklearn.base.clone`` and ``pickle`` handle.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def _vectoriser() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)


def _head() -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=1000)


def make_pipeline() -> Pipeline:
    """Slow path: a pipeline on raw texts, refitted whole for every candidate."""
    return Pipeline([("tfidf", _vectoriser()), ("logreg", _head())])


def make_pair() -> tuple[TfidfVectorizer, LogisticRegression]:
    """Fast path: a featuriser fitted once per run, and a head refitted per candidate."""
    return _vectoriser(), _head()
