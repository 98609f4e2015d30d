"""Shared steps of every job (search, improve, knowledge map, benchmarks), in the one direction data flows:
data → synthetic candidates → features → problem for the evaluator → final test evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from autogets.classifiers import Classifier, make_classifier
from autogets.data import Split
from autogets.errors import SearchError
from autogets.folds import FOLDS, REPEATS, assign_folds, held_out, shot_affinity
from autogets.generators import Generator
from autogets.generators.base import Contrast, SourceExample, Synthetic
from autogets.generators.cache import GenerationCache, GenerationResult, synthesize, text_hash
from autogets.identity import DatasetId
from autogets.metrics import Metrics, compute_metrics
from autogets.search.evaluator import Problem
from autogets.search.representation import ClassView, class_view, pca_coordinates

Progress = Callable[[str, int, int | None], None]
"""Progress callback: (phase, done, total)."""


def check_class(split: Split, target: str) -> None:
    if target not in split.classes:
        raise SearchError(f"unknown class {target!r}; classes: {', '.join(split.classes)}")


def select_sources(examples: Sequence[SourceExample], max_sources: int | None) -> list[SourceExample]:
    """At most ``max_sources`` source examples, chosen by a hash of their text (not by the split seed), so that runs
    on different splits pick the same texts wherever they are in the training split and share cached generations."""
    if max_sources is None or len(examples) <= max_sources:
        return list(examples)
    if max_sources < 1:
        raise SearchError("max_sources must be at least 1")
    return sorted(examples, key=lambda e: text_hash(e.text))[:max_sources]


def synthesize_class(cache: GenerationCache, generator: Generator, split: Split, target: str, *,
                     dataset: DatasetId | str, n_per_example: int = 5, seed: int = 0, max_sources: int | None = None,
                     progress: Progress | None = None, variant: str = "", hint: str = "",
                     contrast: bool = False, classifier: str = "linear", folds: int = FOLDS,
                     repeats: int = REPEATS, fold_seed: int | None = None) -> GenerationResult:
    """Synthetic texts for the training examples of ``target`` (all, or ``max_sources`` of them; cached; method
    Part A §6). ``contrast``: the prompt also shows texts of the class M0 confuses ``target`` with most
    (:func:`most_confused`; a generator without ``uses_contrast`` ignores it). Texts a person rejected on
    ``dataset`` (its identity: name and content) are left out (:func:`autogets.review.may_train`) and counted as
    ``rejected_before``. A few-shot generator draws shots that share the source's cv folds (``folds`` ×
    ``repeats`` and ``fold_seed``, default ``seed``: pass :func:`build_problem`'s, so its folds are these;
    :mod:`autogets.folds`)."""
    check_class(split, target)
    shown = most_confused(split, target, classifier=classifier) if contrast else None
    rows = split.train[split.train["label"] == target]
    examples = select_sources([SourceExample(id=int(r.id), text=r.text, label=target) for r in rows.itertuples()],
                              max_sources)
    real = [*split.train["text"], *split.validation["text"], *split.test["text"]]
    affinity = fold_affinity(split, seed if fold_seed is None else fold_seed, folds, repeats)
    result = synthesize(generator, examples, n_per_example=n_per_example, class_name=target, cache=cache,
                        real_texts=real, context=list(rows["text"]), seed=seed,
                        progress=(lambda d, t: progress("generate", d, t)) if progress else None, variant=variant,
                        hint=hint, contrast=shown, affinity=affinity)
    from autogets.review import may_train

    source_text = {e.id: e.text for e in examples}
    result.synthetic, rejected = may_train(cache.db, dataset, result.synthetic, lambda s: source_text[s.source_id])
    if rejected:
        result.report.dropped["rejected_before"] += rejected
        result.report.kept -= rejected
    return result


def fold_affinity(split: Split, seed: int, folds: int = FOLDS, repeats: int = REPEATS) -> dict[str, tuple[int, ...]]:
    """Each real text's cv folds under :func:`build_problem`'s assignment (empty when the split is too small to
    cross-validate)."""
    real = pd.concat([split.train, split.validation])
    try:
        assignment = assign_folds(real["label"].to_numpy(), folds=folds, repeats=repeats, seed=seed)
    except SearchError:
        return {}
    return dict(shot_affinity(list(real["text"]), assignment))


def most_confused(split: Split, target: str, *, classifier: str = "linear", k: int = 3) -> Contrast | None:
    """The class M0 confuses ``target`` with most on the training split, out of fold (its examples predicted as
    ``target`` plus ``target``'s examples predicted as it), with ``k`` of its training texts: first those M0
    predicts as ``target``, then the rest by text hash. ``None`` when M0 confuses ``target`` with nothing."""
    check_class(split, target)
    labels = split.train["label"].to_numpy()
    predicted = out_of_fold(make_classifier(classifier), split)
    confusion: dict[str, int] = {}
    for true, pred in zip(labels, predicted, strict=True):
        if (true == target) != (pred == target):
            other = pred if true == target else true
            confusion[other] = confusion.get(other, 0) + 1
    if not confusion:
        return None
    other = max(sorted(confusion), key=lambda c: confusion[c])
    mine = split.train.loc[labels == other, "text"].tolist()
    hit = predicted[labels == other] == target
    order = sorted(range(len(mine)), key=lambda i: (not hit[i], text_hash(mine[i])))
    return Contrast(class_name=str(other), texts=tuple(mine[i] for i in order[:k]))


@dataclass(frozen=True)
class TextFilter:
    """Issue 14 lever 6, measured in ``bench quality`` (off by default): drop synthetic texts that look useless
    before the search sees them.

    ``margin``: drop a text that M0 (fitted on train + validation, which never saw a synthetic text) assigns to
    another class with a decision value above the target's by more than ``margin`` (it reads as another class).
    ``dedupe``: among the class's synthetic texts, drop one whose word set has Jaccard similarity ≥ ``dedupe``
    with an earlier kept text (near-duplicates add weight, not information)."""

    margin: float | None = None
    dedupe: float | None = None
    consistency: float | None = None
    """Issue 21: drop a text when fewer than this share of its ``neighbours`` nearest real texts (train +
    validation, MiniLM cosine) are of the target class (it reads as another class)."""
    neighbours: int = 5
    cosine: float | None = None
    """Issue 21: drop a text whose MiniLM cosine with an earlier kept text of the class is ≥ this."""

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.margin, self.dedupe, self.consistency, self.cosine))

    def apply(self, split: Split, synthetic: Sequence[Synthetic], target: str, *, classifier: str = "linear"
              ) -> tuple[list[Synthetic], dict[str, int]]:
        """The kept texts (in order) and how many each rule dropped."""
        kept, dropped = list(synthetic), {"confident_other": 0, "near_duplicate": 0, "inconsistent": 0,
                                          "cosine_duplicate": 0}
        if self.margin is not None and kept:
            from autogets.serving import class_scores

            real = pd.concat([split.train, split.validation])
            m0 = make_classifier(classifier).fit(real["text"].tolist(), real["label"].tolist())
            _, scores = class_scores(m0, [s.text for s in kept])  # K columns, two-class models too
            classes = list(m0.classes_)
            t = classes.index(target)
            other = np.delete(scores, t, axis=1).max(axis=1)
            keep = other - scores[:, t] <= self.margin
            dropped["confident_other"] = int((~keep).sum())
            kept = [s for s, k in zip(kept, keep, strict=True) if k]
        if self.dedupe is not None and kept:
            keep = _not_near_duplicates([s.text for s in kept], self.dedupe)
            dropped["near_duplicate"] = len(kept) - int(keep.sum())
            kept = [s for s, k in zip(kept, keep, strict=True) if k]
        if (self.consistency is not None or self.cosine is not None) and kept:
            from autogets.embeddings import embed, get_embedder

            encoder = get_embedder("minilm")
            vectors = embed(encoder, [s.text for s in kept])
            if self.consistency is not None:
                real = pd.concat([split.train, split.validation])
                share = _neighbour_share(vectors, embed(encoder, real["text"].tolist()),
                                         real["label"].to_numpy() == target, self.neighbours)
                keep = share >= self.consistency
                dropped["inconsistent"] = int((~keep).sum())
                kept, vectors = [s for s, k in zip(kept, keep, strict=True) if k], vectors[keep]
            if self.cosine is not None and kept:
                keep = _not_cosine_duplicates(vectors, self.cosine)
                dropped["cosine_duplicate"] = int((~keep).sum())
                kept = [s for s, k in zip(kept, keep, strict=True) if k]
        return kept, dropped


def _neighbour_share(vectors: np.ndarray, real: np.ndarray, is_target: np.ndarray, k: int) -> np.ndarray:
    """For each row of ``vectors`` (unit length), the share of its ``k`` most cosine-similar ``real`` rows that are
    of the target class."""
    k = max(1, min(k, len(real)))
    sims = vectors @ real.T
    nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return is_target[nearest].mean(axis=1)


def _not_cosine_duplicates(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy in order: a row is kept unless its cosine with an already kept row is ≥ ``threshold``."""
    sims = vectors @ vectors.T
    keep = np.ones(len(vectors), dtype=bool)
    for i in range(len(vectors)):
        if keep[:i].any() and (sims[i, :i][keep[:i]] >= threshold).any():
            keep[i] = False
    return keep


def _not_near_duplicates(texts: Sequence[str], threshold: float) -> np.ndarray:
    """Greedy in order: a text is kept unless its word-set Jaccard with an already kept text is ≥ ``threshold``."""
    from sklearn.feature_extraction.text import CountVectorizer

    B = CountVectorizer(binary=True, lowercase=True, token_pattern=r"(?u)\b\w+\b").fit_transform(texts)
    B = (B > 0).astype(np.float64)
    sizes = np.asarray(B.sum(axis=1)).ravel()
    inter = (B @ B.T).toarray()
    union = sizes[:, None] + sizes[None, :] - inter
    jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    keep = np.ones(len(texts), dtype=bool)
    for i in range(len(texts)):
        if keep[:i].any() and (jac[i, :i][keep[:i]] >= threshold).any():
            keep[i] = False
    return keep


@dataclass(frozen=True)
class Prepared:
    """Features and problem of one run. ``featurizer`` is fitted on train + validation + synthetic texts."""

    problem: Problem
    featurizer: Any
    template: Classifier
    synthetic: tuple[Synthetic, ...]


FITNESSES = ("cv", "validation")
REFITS = ("train+validation", "train")


def build_problem(split: Split, synthetic: Sequence[Synthetic], target: str, *, classifier: str = "linear",
                  fitness: str = "validation", folds: int = 5, repeats: int = 2, seed: int = 42) -> Prepared:
    """Fit the featuriser once (method Part A §4; test texts excluded) and lay out the evaluator's matrix.

    ``fitness="cv"``: the evaluator scores candidates by ``repeats`` × stratified ``folds``-fold cross-validation
    over train + validation (seeded by ``seed``), on the same matrix (see :mod:`autogets.search.evaluator`)."""
    if fitness not in FITNESSES:
        raise SearchError(f"unknown fitness {fitness!r}; choose one of {', '.join(FITNESSES)}")
    template = make_classifier(classifier)
    classes = tuple(split.classes)
    code = {c: i for i, c in enumerate(classes)}
    texts = [*split.train["text"], *split.validation["text"], *(s.text for s in synthetic)]
    featurizer = template.make_featurizer().fit(texts)
    X = featurizer.transform(texts)
    X = sp.csr_matrix(X) if sp.issparse(X) else X
    labels = [*split.train["label"], *split.validation["label"], *(s.label for s in synthetic)]
    y = np.array([code[lab] for lab in labels], dtype=np.int64)
    n_train, n_val = len(split.train), len(split.validation)
    synth_rows: dict[int, list[int]] = {}
    for k, s in enumerate(synthetic):
        synth_rows.setdefault(s.source_id, []).append(n_train + n_val + k)
    problem = Problem(X=X, y=y, n_train=n_train, val_rows=np.arange(n_train, n_train + n_val),
                      synth_rows={i: np.array(r) for i, r in synth_rows.items()}, template=template,
                      classes=classes, target=code[target])
    if fitness == "cv":
        problem = _with_folds(problem, split, synthetic, folds=folds, repeats=repeats, seed=seed)
    problem = with_gram(problem)
    return Prepared(problem=problem, featurizer=featurizer, template=template, synthetic=tuple(synthetic))


def _with_folds(problem: Problem, split: Split, synthetic: Sequence[Synthetic], *, folds: int, repeats: int,
                seed: int) -> Problem:
    """``problem`` with the cv folds of :mod:`autogets.folds` and every row's origins: the real rows it stands for
    (itself; a synthetic text's source and the real texts its prompt showed), so a fold drops every child of a
    row it holds out (:meth:`~autogets.search.evaluator.Problem.leaks`)."""
    from dataclasses import replace

    n_real = problem.n_train + len(problem.val_rows)
    held = held_out(assign_folds(problem.y[:n_real], folds=folds, repeats=repeats, seed=seed))
    row_of = {int(i): k for k, i in enumerate(split.train["id"])}
    row_of_text: dict[str, int] = {}
    for k, text in enumerate([*split.train["text"], *split.validation["text"]]):
        row_of_text.setdefault(text_hash(text), k)
    # an origin outside every fold (a source that is not a training example, a shown text that is not a real row of
    # this split) gets the spare slot n_real, which no fold holds out
    width = 1 + max((len(s.shown) for s in synthetic), default=0)
    origin = np.full((n_real + len(synthetic), width), n_real, dtype=np.int64)
    origin[:n_real, 0] = np.arange(n_real)
    for k, s in enumerate(synthetic):
        origin[n_real + k, 0] = row_of.get(int(s.source_id), n_real)
        origin[n_real + k, 1:1 + len(s.shown)] = [row_of_text.get(h, n_real) for h in s.shown]
    return replace(problem, fitness="cv", held_out=held, origin=origin)


def with_gram(problem: Problem) -> Problem:
    """``problem`` with cached per-fold sums (:mod:`autogets.search.gram`) when its head is
    :class:`~autogets.classifiers.BalancedRidge` on a dense matrix; unchanged otherwise."""
    from dataclasses import replace

    from autogets.classifiers import BalancedRidge
    from autogets.search.gram import gram_folds

    head = problem.template.make_head()
    if not isinstance(head, BalancedRidge) or not isinstance(problem.X, np.ndarray) or problem.X.ndim != 2:
        return problem
    held = problem.held_out if problem.fitness == "cv" else (problem.val_rows,)
    synthetic_classes = {int(c) for c in np.unique(problem.y[problem.n_real:])}
    gram = gram_folds(problem.X, problem.y, real=problem.real(), held=held, n_classes=len(problem.classes),
                      synthetic_classes=synthetic_classes, alpha=head.alpha)
    return problem if gram is None else replace(problem, gram=gram)


def real_rows(problem: Problem, refit: str = "train+validation") -> np.ndarray:
    """The real rows a reported model (and its M0) is fitted on: train + validation, or train only."""
    if refit not in REFITS:
        raise SearchError(f"unknown refit {refit!r}; choose one of {', '.join(REFITS)}")
    return np.arange(problem.n_real if refit == "train+validation" else problem.n_train)


def final_rows(problem: Problem, rows: np.ndarray, refit: str = "train+validation") -> np.ndarray:
    """``rows`` (real and synthetic rows a search or ensemble chose) with their real part replaced by the refit's."""
    rows = np.asarray(rows, dtype=np.int64)
    return np.concatenate([real_rows(problem, refit), rows[rows >= problem.n_real]])


def fit_model(prepared: Prepared, selection: frozenset[int], base_rows: np.ndarray | None = None) -> Classifier:
    """The classifier for a selection: the run's featuriser and a head on train (or ``base_rows``) + the
    selection's synthetic rows."""
    from dataclasses import replace

    from sklearn.base import clone

    problem = prepared.problem if base_rows is None else replace(prepared.problem, base_rows=base_rows)
    head = problem.fit_head(selection)
    return clone(prepared.template).with_fitted(prepared.featurizer, _Decoded(head, prepared.problem.classes))


class _Decoded:
    """Wraps a head trained on integer class codes so it predicts class names."""

    def __init__(self, head: Any, classes: tuple[str, ...]):
        self.head = head
        self.classes_ = np.asarray(classes)[np.asarray(head.classes_)]

    def predict(self, X):
        codes = np.asarray(self.head.predict(X)).ravel()
        return self.classes_[np.searchsorted(np.asarray(self.head.classes_), codes)]

    def __getattr__(self, name: str):  # decision_function, predict_proba (if the head has it), …
        if name == "head":
            raise AttributeError(name)
        return getattr(self.head, name)


VIEWS = ("text", "classifier")


def view_featurizer(view: str, prepared: Prepared) -> Any | None:
    """The featuriser the search's PCA map projects: None for ``"text"`` (TF-IDF, the paper's), the run's own
    (fitted) featuriser for ``"classifier"`` when it gives dense vectors (embeddings; TF-IDF classifiers keep the
    text map)."""
    if view not in VIEWS:
        raise SearchError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    if view == "text" or not isinstance(prepared.problem.X, np.ndarray) or prepared.problem.X.ndim != 2:
        return None
    return prepared.featurizer


def class_views(split: Split, m0: Classifier, classes: Sequence[str], *, oof: bool = True, folds: int = 5,
                seed: int = 42, featurizer: Any | None = None) -> dict[str, ClassView]:
    """The red/blue PCA view (method Part B §4.1) of each class's training points, M0 colouring them.

    ``oof`` (default): each point is coloured by M0's *out-of-fold* prediction (an M0 refitted on the other
    ``folds`` − 1 folds of train), so red shows where M0 really errs; a model predicting its own training points
    gets nearly all of them right. ``oof=False``: M0's own predictions (the paper's colouring).

    ``featurizer`` (a fitted one giving dense rows, e.g. sentence embeddings): PCA on its features instead of
    TF-IDF."""
    coords = pca_coordinates([*split.train["text"], *split.validation["text"]], split.train["text"].tolist(),
                             featurizer=featurizer)
    predicted = out_of_fold(m0, split, folds=folds, seed=seed) if oof else m0.predict(split.train["text"].tolist())
    ids, labels = split.train["id"].to_numpy(), split.train["label"].to_numpy()
    return {c: class_view(c, ids, labels, coords, predicted) for c in dict.fromkeys(classes)}


def out_of_fold(model: Classifier, split: Split, *, folds: int = 5, seed: int = 42) -> np.ndarray:
    """Predictions for the training texts, each by a fresh copy of ``model`` fitted without its fold."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    texts, labels = split.train["text"].to_numpy(dtype=object), split.train["label"].to_numpy()
    folds = max(2, min(folds, int(split.train["label"].value_counts().min())))
    out = np.empty(len(texts), dtype=object)
    for fit_idx, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        fold_model = clone(model).fit(texts[fit_idx].tolist(), labels[fit_idx].tolist())
        out[held] = fold_model.predict(texts[held].tolist())
    return out


def test_metrics(model: Classifier, split: Split) -> Metrics:
    """The one evaluation on the held-out test split (for the report only)."""
    return compute_metrics(split.test["label"].to_numpy(), model.predict(split.test["text"].tolist()), split.classes)
