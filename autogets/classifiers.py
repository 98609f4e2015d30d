"""Classifiers: the protocol a search needs, the built-in classifiers, and bring-your-own (``module:factory``).

Method Part A §4. A classifier has two stages so that a search can fit the featuriser once and then refit only the
head on row selections of a cached feature matrix:

* ``make_featurizer()`` returns an unfitted transformer (texts → features), fitted once per run, without labels, on
  the train, validation and synthetic texts (never test);
* ``make_head()`` returns an unfitted estimator (features → labels), refitted for every candidate;
* ``with_fitted(featurizer, head)`` adopts the fitted pair, so the search's best candidate becomes a model.

``fit`` on texts does both stages, so a classifier is also an ordinary scikit-learn estimator (``clone``
round-trips it). Built in (``--classifier NAME``): ``auto`` (default: chosen per data set and split by
cross-validation, :mod:`autogets.selection`), ``linear`` (TF-IDF + LinearSVC), ``minilm`` (MiniLM sentence
embeddings + a class-balanced closed-form ridge head), ``minilm-logreg``, ``embed-openai`` (any OpenAI-compatible
embeddings endpoint), ``linear-char``, ``logreg`` and ``catboost`` (the paper's CatBoost, Part B §2, on CPU; needs
the ``catboost`` extra).

Bring your own: ``--classifier module:factory``
-----------------------------------------------
``module`` is an importable module (the current folder is on the import path), ``factory`` a callable in it that
takes no arguments (or an unfitted estimator object). What it returns decides how a search refits a candidate:

1. **An estimator on raw texts** — any scikit-learn classifier or ``Pipeline`` whose ``fit(texts, labels)`` and
   ``predict(texts)`` take lists of strings, e.g. ``make_pipeline(TfidfVectorizer(), LogisticRegression())``.
   *Slow path*: every candidate clones the estimator and refits all of it on the candidate's texts.
2. **A** ``(featurizer, head)`` **pair** — an unfitted transformer (texts → features; ``fit`` gets no labels) and an
   unfitted classifier (features → labels). *Fast path*: the featuriser is fitted once per run; every candidate
   clones the head and refits it on a row selection of the cached feature matrix (sparse or dense array, or a
   DataFrame).
3. **An object with** ``make_featurizer``, ``make_head``, ``with_fitted``, ``fit`` and ``predict`` (the
   :class:`Classifier` protocol below) — fast path, used as it is.

Whatever it returns must survive ``sklearn.base.clone`` and ``pickle`` (candidates run in worker processes, which
import ``module`` again if its own classes are in the objects). Labels reach heads as integer class codes. A head's
scores — for the search's margin tie-break and for ``autogets predict`` — come from ``decision_function`` if it has
one, else ``predict_proba``, else one-hot predictions (:func:`head_scores`). See ``examples/byo_classifier.py``.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
from collections.abc import Sequence
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from autogets.errors import ConfigError


@runtime_checkable
class Classifier(Protocol):
    """What the rest of the product needs from a text classifier (fitted ones also have ``classes_``)."""

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self: ...

    def predict(self, texts: Sequence[str]) -> np.ndarray: ...

    def make_featurizer(self) -> Any: ...

    def make_head(self) -> Any: ...

    def with_fitted(self, featurizer: Any, head: Any) -> Self: ...


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def head_scores(head: Any, X: Any) -> np.ndarray:
    """Per-class scores, shape (n, n_classes) in the order of ``head.classes_``: ``decision_function`` (a binary
    one as ``[-s, s]``), else ``predict_proba``, else one-hot predictions. The arg-max is the predicted class."""
    if hasattr(head, "decision_function"):
        scores = np.asarray(head.decision_function(X), dtype=float)
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
    if hasattr(head, "predict_proba"):
        return np.asarray(head.predict_proba(X), dtype=float)
    predicted = np.asarray(head.predict(X)).ravel()
    return (predicted[:, None] == np.asarray(head.classes_)[None, :]).astype(float)


_BLAS: Any = None


def one_blas_thread():
    """Context manager: BLAS single-threaded for one head fit. Head fits are small and run side by side in worker
    processes; a multi-threaded OpenBLAS spinning on a busy 2-core machine made each ``logreg`` fit ~50× slower
    (10.4 s vs 0.22 s on 300 texts, measured). The controller is made once (about 0.02 ms per use)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _head_has(name: str):
    """``available_if`` check: the fitted head (or, before ``fit``, a fresh one) has the method ``name``."""

    def check(self) -> bool:
        if hasattr(self, "head_"):
            return hasattr(self.head_, name)
        try:
            return hasattr(self.make_head(), name)
        except ConfigError:
            return False

    return check


class TwoStageClassifier(ClassifierMixin, BaseEstimator):
    """Base class: ``fit``/``predict``/scores of a featuriser + head classifier. Subclasses define the two
    ``make_*`` methods (and may override :meth:`fit_head` to use the validation split as an evaluation set)."""

    def make_featurizer(self) -> Any:
        raise NotImplementedError

    def make_head(self) -> Any:
        raise NotImplementedError

    def fit_head(self, X: Any, y: np.ndarray, eval_set: tuple[Any, np.ndarray] | None = None) -> Any:
        """A fresh head fitted on features ``X``; ``eval_set`` (validation features and labels) is ignored here."""
        with one_blas_thread():
            return self.make_head().fit(X, y)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        featurizer = self.make_featurizer().fit(texts)
        return self.with_fitted(featurizer, self.fit_head(featurizer.transform(texts), np.asarray(labels)))

    def with_fitted(self, featurizer: Any, head: Any) -> Self:
        """Adopt an already fitted featuriser and head (as a search produces them); returns ``self``."""
        self.featurizer_, self.head_ = featurizer, head
        self.classes_ = np.asarray(head.classes_)
        return self

    def _features(self, texts: Sequence[str]) -> Any:
        check_is_fitted(self, "head_")
        return self.featurizer_.transform(texts)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.head_.predict(self._features(texts))).ravel()

    @available_if(_head_has("decision_function"))
    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return self.head_.decision_function(self._features(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The head's probabilities; for a head without them, a softmax of :func:`head_scores` (a ranking score,
        not a calibrated probability)."""
        features = self._features(texts)
        if hasattr(self.head_, "predict_proba"):
            return self.head_.predict_proba(features)
        return _softmax(head_scores(self.head_, features))


class TfidfLinearClassifier(TwoStageClassifier):
    """TF-IDF on word n-grams and character n-grams, then a linear model.

    Parameters
    ----------
    word_ngram_range : n-gram range of the word TF-IDF block.
    char_ngram_range : n-gram range of an optional character TF-IDF block (within word bounds); ``None`` (default)
        leaves it out. On TREC-6 (10 seeds, validation) word 1–2-grams alone with C=1 are as accurate as adding char
        2–5-grams with C=0.5 (.850 vs .847) and fit 4.5× faster (0.03 s vs 0.14 s); char n-grams help on noisy text.
    char_min_df : ignore character n-grams seen in fewer documents (keeps the matrix small and fits fast).
    C, tol : inverse regularisation strength and stopping tolerance of the linear model.
    model : ``"svm"`` (LinearSVC, default: ~0.03 s per fit on TREC-6) or ``"logreg"`` (lbfgs, slower, calibrated).
    class_weight : passed to the linear model (``"balanced"`` for the class-weighted baseline).

    ``predict_proba`` of the SVM is a softmax of its decision values: a ranking score, not a calibrated probability.
    """

    def __init__(self, *, word_ngram_range: tuple[int, int] = (1, 2),
                 char_ngram_range: tuple[int, int] | None = None, char_min_df: int = 2, C: float = 1.0,
                 tol: float = 1e-3, model: str = "svm",
                 class_weight: Any = None, random_state: int = 0):
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.C = C
        self.tol = tol
        self.model = model
        self.class_weight = class_weight
        self.random_state = random_state

    def make_featurizer(self) -> FeatureUnion:
        blocks = [("word", TfidfVectorizer(ngram_range=tuple(self.word_ngram_range), sublinear_tf=True))]
        if self.char_ngram_range is not None:
            blocks.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngram_range),
                                                   sublinear_tf=True, min_df=self.char_min_df)))
        return FeatureUnion(blocks)

    def make_head(self) -> BaseEstimator:
        if self.model == "svm":
            return LinearSVC(C=self.C, tol=self.tol, class_weight=self.class_weight, random_state=self.random_state)
        if self.model == "logreg":
            return LogisticRegression(C=self.C * 10, class_weight=self.class_weight, max_iter=2000)
        raise ConfigError(f"unknown linear model {self.model!r}; use 'svm' or 'logreg'")


class TextColumn(TransformerMixin, BaseEstimator):
    """Featuriser for CatBoost: texts → a one-column frame (``text``) that CatBoost treats as a text feature."""

    def fit(self, texts: Sequence[str], y: Any = None) -> Self:
        return self

    def transform(self, texts: Sequence[str]):
        import pandas as pd

        return pd.DataFrame({"text": list(texts)})


class CatBoostTextClassifier(TwoStageClassifier):
    """CatBoost on the raw text with the paper's parameters (method Part B §2) on CPU. Needs the ``catboost``
    extra. Fidelity option: one fit on TREC-6 takes seconds, not milliseconds.

    As in the paper: 300 iterations, learning rate 0.2, depth 8, L2 1, bagging temperature 1, random strength 1,
    254 borders, CatBoost's default text processing, a fresh model per candidate, and — when a search gives the
    validation split as evaluation set (:meth:`fit_head`) — eval metric TotalF1 with early stopping after 20
    rounds, keeping the best iteration. Plain ``fit`` on texts (M0 in ``diagnose``) has no evaluation set and runs
    every iteration. Lower ``iterations`` for quick tests; ``thread_count=-1`` uses every core.
    """

    def __init__(self, *, iterations: int = 300, learning_rate: float = 0.2, depth: int = 8, l2_leaf_reg: float = 1,
                 early_stopping_rounds: int | None = 20, random_seed: int = 0, thread_count: int = -1):
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.early_stopping_rounds = early_stopping_rounds
        self.random_seed = random_seed
        self.thread_count = thread_count

    def make_featurizer(self) -> TextColumn:
        return TextColumn()

    def make_head(self):
        try:
            from catboost import CatBoostClassifier
        except ImportError:
            raise ConfigError("CatBoost is not installed; pip install 'autogets[catboost]'") from None
        return CatBoostClassifier(
            iterations=self.iterations, learning_rate=self.learning_rate, depth=self.depth,
            l2_leaf_reg=self.l2_leaf_reg, bagging_temperature=1, random_strength=1, border_count=254,
            eval_metric="TotalF1", random_seed=self.random_seed, verbose=0, text_features=["text"],
            thread_count=self.thread_count, allow_writing_files=False,
        )

    def fit_head(self, X: Any, y: np.ndarray, eval_set: tuple[Any, np.ndarray] | None = None) -> Any:
        head = self.make_head()
        if eval_set is None or self.early_stopping_rounds is None:
            return head.fit(X, y)
        return head.fit(X, y, eval_set=eval_set, early_stopping_rounds=self.early_stopping_rounds,
                        use_best_model=True)


class TextArray(TransformerMixin, BaseEstimator):
    """Featuriser of the slow path: texts → a 1-D object array of the same texts (rows select like a matrix)."""

    def fit(self, texts: Sequence[str], y: Any = None) -> Self:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty(len(texts), dtype=object)
        out[:] = list(texts)
        return out


class EstimatorClassifier(TwoStageClassifier):
    """A scikit-learn estimator (or pipeline) on raw texts, as a :class:`Classifier`: the *slow path*. Its
    featuriser passes the texts through, so every candidate refits a clone of the whole ``estimator``."""

    def __init__(self, *, estimator: Any = None):
        self.estimator = estimator

    def make_featurizer(self) -> TextArray:
        return TextArray()

    def make_head(self) -> Any:
        return clone(self.estimator)


class FeaturizerHeadClassifier(TwoStageClassifier):
    """A user's ``(featurizer, head)`` pair as a :class:`Classifier`: the *fast path* (clones of both are fitted)."""

    def __init__(self, *, featurizer: Any = None, head: Any = None):
        self.featurizer = featurizer
        self.head = head

    def make_featurizer(self) -> Any:
        return clone(self.featurizer)

    def make_head(self) -> Any:
        return clone(self.head)


def is_full_refit(classifier: Any) -> bool:
    """True when a search must refit the whole classifier on texts for every candidate (the slow path)."""
    return isinstance(classifier, EstimatorClassifier)


class BalancedRidge(ClassifierMixin, BaseEstimator):
    """Class-balanced ridge classifier in closed form, the head of the embedding classifiers.

    Targets are one-hot ±1 (as scikit-learn's ``RidgeClassifier``); row ``i`` of class ``c`` has weight
    ``n / (K · n_c)`` over the rows it is fitted on (scikit-learn's ``"balanced"``); the intercept is not penalised.
    ``W = (X̃ᵀ D X̃ + α P)⁻¹ X̃ᵀ D Y`` with ``X̃ = [X, 1]`` and ``P`` the identity without the intercept's entry.

    The search's fast fitness (:mod:`autogets.search.gram`) solves the same system from cached per-fold sums, so a
    candidate's score and the model finally registered share one decision rule. Measured on MiniLM vectors
    (3 split seeds, 5-fold CV on train + validation): α = 0.3 is as good as 0.1 and better than 1 or 3, and
    balanced weights beat none or √-balanced on macro CBA (banking_dev .971 vs .942 / .963; trec6 .901 vs .870 / .897).
    """

    def __init__(self, alpha: float = 0.3):
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> Self:
        X = np.asarray(X, dtype=np.float64)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        counts = np.bincount(codes, minlength=len(self.classes_)).astype(np.float64)
        weights = (len(codes) / (len(self.classes_) * counts))[codes]
        Xa = np.hstack([X, np.ones((len(X), 1))])
        Y = -np.ones((len(codes), len(self.classes_)))
        Y[np.arange(len(codes)), codes] = 1.0
        gram = (Xa * weights[:, None]).T @ Xa
        rhs = (Xa * weights[:, None]).T @ Y
        W = solve_ridge(gram, rhs, self.alpha)
        self.coef_, self.intercept_ = W[:-1].T.copy(), W[-1].copy()
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def solve_ridge(gram: np.ndarray, rhs: np.ndarray, alpha: float, *, overwrite: bool = False) -> np.ndarray:
    """``(gram + α P)⁻¹ rhs`` by Cholesky, ``P`` the identity without its last (intercept) entry (``overwrite``:
    ``gram`` may be used as scratch space)."""
    from scipy.linalg import cho_factor, cho_solve

    a = gram if overwrite else gram.copy()
    idx = np.arange(a.shape[0] - 1)
    a[idx, idx] += alpha
    with one_blas_thread():  # a 385×385 Cholesky: 3 ms on one thread, 370 ms on two spinning OpenBLAS threads
        try:
            return cho_solve(cho_factor(a, check_finite=False), rhs, check_finite=False)
        except np.linalg.LinAlgError:  # a degenerate fold (e.g. one row): least squares instead
            return np.linalg.lstsq(a, rhs, rcond=None)[0]


class TfidfSvd(TransformerMixin, BaseEstimator):
    """Word 1–2-gram TF-IDF reduced to ``n_components`` dense dimensions by truncated SVD (latent semantic analysis):
    the words a sentence encoder blurs, in a dense block a closed-form ridge head can take beside the embeddings.

    Fitted on texts only (no labels); fewer dimensions when the texts or their vocabulary are too few."""

    def __init__(self, n_components: int = 128, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: Any = None) -> Self:
        self.tfidf_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        X = self.tfidf_.fit_transform(list(texts))
        k = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1] - 1))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(X)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "svd_")
        return self.svd_.transform(self.tfidf_.transform(list(texts)))


class EmbeddingClassifier(TwoStageClassifier):
    """Sentence embeddings (:class:`autogets.embeddings.EmbeddingFeaturizer`) and a class-balanced linear head.

    Parameters
    ----------
    embedder : ``"minilm"`` (the packaged all-MiniLM-L6-v2, offline) or ``"openai"`` (an OpenAI-compatible
        ``/v1/embeddings`` endpoint from ``AUTOGETS_EMBED_BASE_URL`` / ``AUTOGETS_EMBED_MODEL``).
    head : ``"ridge"`` (:class:`BalancedRidge`, default: closed form, so a search scores a candidate from cached
        per-fold sums) or ``"logreg"`` (balanced logistic regression, C = ``C``; every candidate is 10 full fits).
    alpha : the ridge penalty.
    tfidf_components : when > 0, the sentence vectors are joined by that many dimensions of word TF-IDF reduced by
        truncated SVD (:class:`TfidfSvd`); the features stay dense, so the ridge head keeps its fast search path.

    Measured (banking_dev, seeds 42–44, external test of 40 per intent): ridge accuracy .943 and rare-intent CBA
    .956, logistic regression .952 / .959 at 10–20× the fit time; TF-IDF + LinearSVC .87 / .79.
    """

    tfidf_components: int = 0  # what models pickled before the parameter existed read

    def __init__(self, *, embedder: str = "minilm", head: str = "ridge", alpha: float = 0.3, C: float = 3.0,
                 tfidf_components: int = 0):
        self.embedder = embedder
        self.head = head
        self.alpha = alpha
        self.C = C
        self.tfidf_components = tfidf_components

    def make_featurizer(self) -> Any:
        from autogets.embeddings import EmbeddingFeaturizer

        embedding = EmbeddingFeaturizer(embedder=self.embedder)
        if not self.tfidf_components:
            return embedding
        return FeatureUnion([("tfidf", TfidfSvd(n_components=self.tfidf_components)), ("embedding", embedding)])

    def make_head(self) -> BaseEstimator:
        if self.head == "ridge":
            return BalancedRidge(alpha=self.alpha)
        if self.head == "logreg":
            return LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000)
        raise ConfigError(f"unknown embedding head {self.head!r}; use 'ridge' or 'logreg'")

    def describe(self) -> str:
        name = "MiniLM" if self.embedder == "minilm" else "embeddings (OpenAI-compatible endpoint)"
        head = "balanced ridge" if self.head == "ridge" else "balanced logistic regression"
        words = " + TF-IDF" if self.tfidf_components else ""
        return f"{name}{words} + {head}"


TFIDF_COMPONENTS = 128
"""SVD dimensions of the TF-IDF block of ``minilm-tfidf`` (see ``benchmarks/results/2026-12-05-classifiers-*.md``)."""

CLASSIFIERS = {
    "linear": lambda: TfidfLinearClassifier(),
    "linear-char": lambda: TfidfLinearClassifier(char_ngram_range=(2, 5), C=0.5),
    "logreg": lambda: TfidfLinearClassifier(model="logreg"),
    "catboost": lambda: CatBoostTextClassifier(),
    "minilm": lambda: EmbeddingClassifier(),
    "minilm-tfidf": lambda: EmbeddingClassifier(tfidf_components=TFIDF_COMPONENTS),
    "minilm-logreg": lambda: EmbeddingClassifier(head="logreg"),
    "embed-openai": lambda: EmbeddingClassifier(embedder="openai"),
}

AUTO = "auto"
"""``--classifier auto`` (the default): :func:`autogets.selection.choose_classifier` picks one of
:data:`AUTO_CANDIDATES` by cross-validation on train + validation."""

AUTO_CANDIDATES = ("linear", "minilm", "minilm-tfidf")
"""The fast built-in classifiers ``auto`` compares (not CatBoost, whose single fit takes over a minute here, nor
``minilm-logreg``, whose candidates cost 10 full fits each in a search)."""

DESCRIPTIONS = {
    "linear": "TF-IDF + linear SVM",
    "linear-char": "TF-IDF (words and characters) + linear SVM",
    "logreg": "TF-IDF + logistic regression",
    "catboost": "CatBoost on the text",
    "minilm": "MiniLM + balanced ridge",
    "minilm-tfidf": "MiniLM + TF-IDF + balanced ridge",
    "minilm-logreg": "MiniLM + balanced logistic regression",
    "embed-openai": "embeddings (OpenAI-compatible endpoint) + balanced ridge",
}


def describe(name: str) -> str:
    """A short human name of a classifier spec (e.g. ``minilm`` → "MiniLM + balanced ridge")."""
    return DESCRIPTIONS.get(name, name)


def make_classifier(name: str = "linear") -> Classifier:
    """A fresh, unfitted classifier: a built-in name — ``linear`` (default), ``linear-char`` (adds char 2–5-grams),
    ``logreg``, ``catboost`` — or ``module:factory`` (bring your own; see the module docstring)."""
    if name in CLASSIFIERS:
        return CLASSIFIERS[name]()
    if ":" in name:
        return classifier_from_spec(name)
    if name == AUTO:
        raise ConfigError("'auto' is chosen by diagnose (autogets.selection.choose_classifier), not built directly")
    raise ConfigError(f"unknown classifier {name!r}; choose one of auto, {', '.join(CLASSIFIERS)}, or "
                      "module:factory")


def _is_estimator(obj: Any) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "fit", None)) and callable(getattr(obj, "predict",
                                                                                                    None))


def _is_transformer(obj: Any) -> bool:
    return not isinstance(obj, type) and callable(getattr(obj, "fit", None)) and callable(getattr(obj, "transform",
                                                                                                    None))


def classifier_from_spec(spec: str) -> Classifier:
    """The classifier a ``module:factory`` spec names, checked to be cloneable and picklable; every problem is a
    one-line :class:`ConfigError`."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"classifier {spec!r}: expected module:factory, e.g. examples.byo_classifier:make_pipeline")
    if os.getcwd() not in sys.path:  # like `python -m`: modules in the current folder are importable
        sys.path.append(os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"classifier {spec!r}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the user's module failed while importing
        raise ConfigError(f"classifier {spec!r}: importing {module_name!r} failed "
                          f"({type(exc).__name__}: {exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"classifier {spec!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    made = obj
    if callable(obj) and not _is_estimator(obj):
        try:
            made = obj()
        except Exception as exc:
            raise ConfigError(f"classifier {spec!r}: the factory raised {type(exc).__name__}: {exc}") from None
    if isinstance(made, Classifier) and not isinstance(made, type):
        classifier: Any = made
    elif isinstance(made, tuple | list) and len(made) == 2 and _is_transformer(made[0]) and _is_estimator(made[1]):
        classifier = FeaturizerHeadClassifier(featurizer=made[0], head=made[1])
    elif _is_estimator(made):
        classifier = EstimatorClassifier(estimator=made)
    else:
        raise ConfigError(f"classifier {spec!r} gave {type(made).__name__}, not a scikit-learn estimator (fit and "
                          f"predict on texts), a (featurizer, head) pair or a Classifier")
    try:
        pickle.dumps(clone(classifier))
    except Exception as exc:
        raise ConfigError(f"classifier {spec!r} cannot be cloned and pickled (candidates run in worker processes): "
                          f"{type(exc).__name__}: {exc}") from None
    return classifier
