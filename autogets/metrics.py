"""Per-class and overall metrics (method Part B §5), computed from one confusion matrix.

Per class (one-vs-rest): sensitivity (= recall), specificity = TN/(TN+FP), CBA = (sensitivity+specificity)/2,
precision, F1, support. Overall: accuracy (= micro precision = recall = F1, the paper's "overall F1"),
OBA = (accuracy + micro specificity)/2, which equals (K·acc + K − 2) / (2(K − 1)); macro F1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CLASS_METRICS = ("sensitivity", "specificity", "cba", "precision", "recall", "f1", "support")
OVERALL_METRICS = ("accuracy", "oba", "macro_f1", "macro_cba")


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = number of examples of class ``i`` predicted as ``j`` (integer labels)."""
    idx = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


@dataclass(frozen=True)
class Metrics:
    """All metrics of one model on one split. Arrays are indexed like ``classes``."""

    classes: tuple[str, ...]
    matrix: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    cba: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float
    oba: float
    macro_f1: float
    macro_cba: float

    @property
    def recall(self) -> np.ndarray:
        return self.sensitivity

    def index(self, cls: str) -> int:
        return self.classes.index(cls)

    def of(self, cls: str) -> dict[str, float]:
        """The per-class metrics of ``cls`` as a dict."""
        i = self.index(cls)
        return {m: float(getattr(self, m)[i]) for m in CLASS_METRICS}

    def value(self, name: str, cls: str | None = None) -> float:
        """One metric by name: a per-class one (needs ``cls``) or an overall one (``overall_f1`` = accuracy)."""
        if name == "overall_f1":
            name = "accuracy"
        if name in OVERALL_METRICS:
            return float(getattr(self, name))
        if name not in CLASS_METRICS:
            raise KeyError(f"unknown metric {name!r}")
        if cls is None:
            raise KeyError(f"metric {name!r} needs a class")
        return float(getattr(self, name)[self.index(cls)])

    def table(self) -> pd.DataFrame:
        """Per-class table, one row per class, plus an ``overall`` row (CBA column holds OBA there)."""
        rows = {c: self.of(c) for c in self.classes}
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(CLASS_METRICS))
        frame.loc["overall"] = {
            "sensitivity": self.accuracy, "specificity": float(2 * self.oba - self.accuracy), "cba": self.oba,
            "precision": self.accuracy, "recall": self.accuracy, "f1": self.accuracy,
            "support": float(self.support.sum()),
        }
        frame["support"] = frame["support"].astype(int)
        return frame

    def to_dict(self) -> dict:
        return {
            "overall": {m: float(getattr(self, m)) for m in OVERALL_METRICS},
            "per_class": {c: self.of(c) for c in self.classes},
            "confusion": self.matrix.tolist(),
            "classes": list(self.classes),
        }


def metrics_from_confusion(matrix: np.ndarray, classes: tuple[str, ...] | list[str]) -> Metrics:
    """Every metric from a K×K confusion matrix (rows = true class, columns = predicted)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes) or m.shape[0] == 0:
        raise ValueError(f"confusion matrix of shape {m.shape} does not fit {len(classes)} classes")
    total = m.sum()
    tp = np.diag(m)
    fn = m.sum(axis=1) - tp
    fp = m.sum(axis=0) - tp
    tn = total - tp - fn - fp
    sens = _div(tp, tp + fn)
    spec = _div(tn, tn + fp)
    prec = _div(tp, tp + fp)
    f1 = _div(2 * prec * sens, prec + sens)
    acc = float(tp.sum() / total) if total else 0.0
    micro_spec = float(tn.sum() / (tn.sum() + fp.sum())) if (tn.sum() + fp.sum()) else 0.0
    cba = (sens + spec) / 2
    present = (tp + fn) > 0
    return Metrics(
        classes=tuple(classes), matrix=np.asarray(matrix, dtype=np.int64), sensitivity=sens, specificity=spec,
        cba=cba, precision=prec, f1=f1, support=(tp + fn).astype(np.int64), accuracy=acc,
        oba=(acc + micro_spec) / 2, macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        macro_cba=float(cba[present].mean()) if present.any() else 0.0,
    )


def compute_metrics(y_true, y_pred, classes: list[str] | tuple[str, ...]) -> Metrics:
    """Metrics from label arrays (strings or integer codes into ``classes``)."""
    classes = tuple(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.dtype.kind in "iu" and yp.dtype.kind in "iu":
        return metrics_from_confusion(confusion(yt, yp, len(classes)), classes)
    try:
        ti = np.fromiter((lookup[v] for v in yt), dtype=np.int64, count=len(yt))
        pi = np.fromiter((lookup[v] for v in yp), dtype=np.int64, count=len(yp))
    except KeyError as exc:
        raise ValueError(f"label {str(exc.args[0])!r} is not one of {list(classes)}") from None
    return metrics_from_confusion(confusion(ti, pi, len(classes)), classes)


def oba_from_accuracy(accuracy: float, n_classes: int) -> float:
    """The identity of method §5: OBA = (K·acc + K − 2) / (2(K − 1))."""
    return (n_classes * accuracy + n_classes - 2) / (2 * (n_classes - 1))


def compare(before: Metrics, after: Metrics) -> pd.DataFrame:
    """Per-class table of ``after − before`` for CBA, recall, precision and F1, plus the overall row."""
    a, b = after.table(), before.table()
    cols = ["cba", "recall", "precision", "f1"]
    out = (a[cols] - b[cols]).add_prefix("delta_")
    return pd.concat([b[cols].add_prefix("before_"), a[cols].add_prefix("after_"), out, a[["support"]]], axis=1)


def cba_gain_interval(y_true, pred_before, pred_after, cls: str, *, n_boot: int = 2000, level: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """Paired, class-stratified bootstrap interval of ``cls``'s CBA gain (after − before) over the same examples.

    Each true class's examples are resampled with replacement within that class (so every resample has as many
    examples of ``cls`` as the test split: a resample without a single positive example, which would score both
    models 0, cannot happen), and both models are scored on each resample. A class with few test examples still
    gets a wide interval. Only the four (before right?, after right?) counts of each true class matter, so a resample
    is a multinomial draw over those four: memory is O(n_boot × classes), whatever the number of test rows.
    """
    y = np.asarray(y_true)
    yt = y == cls
    before, after = np.asarray(pred_before) == cls, np.asarray(pred_after) == cls
    if len(yt) == 0 or not yt.any() or yt.all():
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    right_before = np.where(yt, before, ~before)  # right about "is it cls?"
    right_after = np.where(yt, after, ~after)
    sens_gain, spec_gain = np.zeros(n_boot), np.zeros(n_boot)
    n_pos, n_neg = int(yt.sum()), int((~yt).sum())
    for label in sorted(set(y.tolist()), key=str):
        mine = y == label
        kinds = np.bincount(2 * right_before[mine] + right_after[mine], minlength=4)  # 00, 01 (fixed), 10 (broken), 11
        draws = rng.multinomial(int(mine.sum()), kinds / kinds.sum(), size=n_boot)
        change = (draws[:, 1] - draws[:, 2]).astype(float)
        if label == cls:
            sens_gain += change / n_pos
        else:
            spec_gain += change / n_neg
    gains = (sens_gain + spec_gain) / 2
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(gains, [tail, 100 - tail])
    return (float(lo), float(hi))
