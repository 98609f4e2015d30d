"""Diagnosis of M0: choose its classifier (``auto``), train on the train split, per-class metrics on validation and
test, name the weak classes.

``classifier="auto"`` (the default) compares the fast built-in classifiers by cross-validation on train +
validation (:mod:`autogets.selection`) and keeps the best; the comparison is part of the diagnosis.

Weak-class rule (on **validation**, never test): a class is weak when its CBA is at least ``cba_margin`` (0.02)
below the macro-average CBA, or its recall is at least ``recall_margin`` (0.05) below the macro-average recall.
Weak classes are listed weakest (lowest validation CBA) first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autogets.classifiers import describe, make_classifier
from autogets.data import Dataset, Split, split_dataset
from autogets.metrics import Metrics, compute_metrics
from autogets.selection import ClassifierChoice, resolve

WEAK_RULE = ("validation CBA at least 0.02 below the macro-average CBA, or validation recall at least 0.05 below "
             "the macro-average recall")


@dataclass(frozen=True)
class Diagnosis:
    dataset: str
    seed: int
    classifier: str
    sizes: dict[str, int]
    train_counts: dict[str, int]
    validation: Metrics
    test: Metrics
    weak_classes: list[str]
    fit_seconds: float
    rule: str = field(default=WEAK_RULE)
    choice: ClassifierChoice | None = None

    @property
    def classifier_reason(self) -> str:
        """Which classifier M0 is and why (the ``auto`` comparison, or "asked for")."""
        if self.choice is not None:
            return self.choice.reason()
        return f"{describe(self.classifier)} (asked for)"

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "seed": self.seed, "classifier": self.classifier,
            "classifier_description": describe(self.classifier), "classifier_reason": self.classifier_reason,
            "classifier_choice": self.choice.to_dict() if self.choice else None, "sizes": self.sizes,
            "train_counts": self.train_counts, "weak_classes": self.weak_classes, "weak_rule": self.rule,
            "fit_seconds": round(self.fit_seconds, 4),
            "validation": self.validation.to_dict(), "test": self.test.to_dict(),
        }


def find_weak_classes(metrics: Metrics, *, cba_margin: float = 0.02, recall_margin: float = 0.05) -> list[str]:
    """Classes whose CBA or recall falls clearly below the macro average, weakest CBA first."""
    cba, recall = metrics.cba, metrics.recall
    weak = (cba <= cba.mean() - cba_margin) | (recall <= recall.mean() - recall_margin)
    order = np.argsort(cba, kind="stable")
    return [metrics.classes[i] for i in order if weak[i]]


def diagnose(dataset: Dataset, *, seed: int = 42, classifier: str = "auto", split: Split | None = None,
             target: str | None = None) -> Diagnosis:
    """Choose M0's classifier (``auto``: by cross-validation on train + validation, by ``target``'s CBA when a
    class is given), train M0 on the train split and measure it on validation and test."""
    split = split or split_dataset(dataset, seed=seed)
    classes = split.classes
    classifier, choice = resolve(classifier, split, target=target, seed=seed)
    model = make_classifier(classifier)
    start = time.perf_counter()
    model.fit(split.train["text"].tolist(), split.train["label"].to_numpy())
    fit_seconds = time.perf_counter() - start
    val = compute_metrics(split.validation["label"].to_numpy(), model.predict(split.validation["text"].tolist()),
                          classes)
    test = compute_metrics(split.test["label"].to_numpy(), model.predict(split.test["text"].tolist()), classes)
    counts = split.train["label"].value_counts()
    return Diagnosis(
        dataset=dataset.name, seed=seed, classifier=classifier, sizes=split.sizes(),
        train_counts={c: int(counts[c]) for c in classes}, validation=val, test=test,
        weak_classes=find_weak_classes(val), fit_seconds=fit_seconds, choice=choice,
    )


def write_report(diagnosis: Diagnosis, folder: Path) -> dict[str, Path]:
    """Write ``report.json`` and ``per_class_cba.png`` into ``folder``; returns their paths."""
    from autogets.plots import per_class_bars
    from autogets.workspace import write_json_atomic

    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    write_json_atomic(json_path, diagnosis.to_dict())
    png = per_class_bars({"M0 validation": diagnosis.validation, "M0 test": diagnosis.test},
                         folder / "per_class_cba.png", metric="cba", highlight=diagnosis.weak_classes,
                         title=f"{diagnosis.dataset}: M0 per-class balanced accuracy (CBA)")
    return {"report": json_path, "plot": png}
