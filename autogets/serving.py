"""Using a registered model: load it, score texts, read and write prediction tables (``autogets predict``).

A registered model is a fitted scikit-learn style classifier on raw texts: ``predict``, ``predict_proba``,
``decision_function`` when its head has one, and ``classes_``. Per-class scores are the decision values when the
model has them, else its probabilities (see :func:`class_scores`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autogets.data import normalise_text, read_table
from autogets.errors import DataError, RegistryError
from autogets.registry import ModelVersion, Registry
from autogets.workspace import Workspace

WRITERS: dict[str, Callable[[pd.DataFrame, str], None]] = {
    ".csv": lambda frame, path: frame.to_csv(path, index=False),
    ".jsonl": lambda frame, path: frame.to_json(path, orient="records", lines=True, force_ascii=False),
    ".ndjson": lambda frame, path: frame.to_json(path, orient="records", lines=True, force_ascii=False),
    ".json": lambda frame, path: frame.to_json(path, orient="records", force_ascii=False),
    ".parquet": lambda frame, path: frame.to_parquet(path, index=False),
    ".pq": lambda frame, path: frame.to_parquet(path, index=False),
}
"""Output formats by file suffix (the same formats the data readers take)."""


def _workspace(workspace: str | Path | Workspace | None) -> Workspace:
    if isinstance(workspace, Workspace):
        ws = workspace
    else:
        from autogets.config import load_settings

        ws = Workspace(workspace if workspace is not None else load_settings().workspace)
    ws.check_database()
    if not ws.db_path.exists():
        raise RegistryError(f"no workspace at {ws.root}: no model has been registered there")
    return ws


def resolve_version(registry: Registry, dataset: str | None, version: int | str | None = None) -> ModelVersion:
    """The model version to use: ``version`` (an id such as ``trec6-v2``, or a number) or the data set's production
    version. A :class:`RegistryError` says how to promote one when there is none."""
    if version is None:
        if not dataset:
            raise RegistryError("say which model: a data set (its production version) or a model id")
        current = registry.production(dataset)
        if current is None:
            versions = registry.list(dataset)
            hint = (f"promote one with `autogets models promote {versions[-1].id}`" if versions else
                    f"train one with `autogets improve --dataset {dataset} --promote`")
            raise RegistryError(f"no production model for {dataset!r}; {hint}")
        return current
    if isinstance(version, int) or re.fullmatch(r"\d+", str(version)):
        if not dataset:
            raise RegistryError(f"version {version} needs a data set; or give the model id, e.g. trec6-v{version}")
        version = f"{dataset}-v{int(version)}"
    found = registry.get(str(version))
    if dataset and found.dataset != dataset:
        raise RegistryError(f"model {found.id} belongs to data set {found.dataset!r}, not {dataset!r}")
    return found


def load_version(dataset: str | None, version: int | str | None = None,
                 workspace: str | Path | Workspace | None = None) -> tuple[ModelVersion, Any]:
    """The version record and its fitted model (see :func:`load_model`)."""
    registry = Registry(_workspace(workspace))
    record = resolve_version(registry, dataset, version)
    if not Path(record.artifact).exists():
        raise RegistryError(f"artifact of {record.id} is missing: {record.artifact}")
    try:
        model = registry.load(record.id)
    except ModuleNotFoundError as exc:
        raise RegistryError(f"{record.id} needs the module {exc.name!r} to load (a bring-your-own classifier?); "
                            f"make it importable, e.g. with PYTHONPATH") from None
    except (AttributeError, ImportError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise RegistryError(f"cannot load the artifact of {record.id} ({type(exc).__name__}: {exc}); was it made "
                            f"by another version of autogets or its packages?") from None
    return record, model


def load_model(dataset: str, version: int | str | None = None, workspace: str | Path | Workspace | None = None
               ) -> Any:
    """The fitted classifier of ``dataset``'s production version (or of ``version``: a number or an id such as
    ``"trec6-v2"``) from ``workspace`` (default: ``AUTOGETS_HOME`` or ``./.autogets``).

    It takes raw texts: ``predict(texts)`` gives class names, ``predict_proba(texts)`` and (for linear heads)
    ``decision_function(texts)`` per-class scores in the order of ``classes_``.

    Example::

        import autogets
        model = autogets.load_model("trec6")
        model.predict(["What does NASA stand for?"])
    """
    return load_version(dataset, version, workspace)[1]


def class_scores(model: Any, texts: Sequence[str]) -> tuple[str, np.ndarray]:
    """(kind, scores of shape (n, n_classes) in the order of ``model.classes_``): the decision values when the model
    has a ``decision_function``, else ``predict_proba``."""
    if hasattr(model, "decision_function"):
        scores = np.asarray(model.decision_function(texts), dtype=float)
        return "decision_function", np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
    return "probability", np.asarray(model.predict_proba(texts), dtype=float)


@dataclass(frozen=True)
class Predictions:
    """Labels and per-class scores of some texts by one model version."""

    model_id: str
    classes: list[str]
    score_kind: str
    labels: list[str]
    scores: np.ndarray

    def to_records(self, texts: Sequence[str]) -> list[dict]:
        return [{"text": t, "label": lab, "scores": dict(zip(self.classes, map(float, row), strict=True))}
                for t, lab, row in zip(texts, self.labels, self.scores, strict=True)]


def predict_texts(model: Any, texts: Sequence[str], model_id: str) -> Predictions:
    """Labels and scores of ``texts`` (whitespace normalised as in training)."""
    clean = [normalise_text(t) for t in texts]
    kind, scores = class_scores(model, clean)
    labels = [str(x) for x in model.predict(clean)]
    return Predictions(model_id, [str(c) for c in model.classes_], kind, labels, scores)


def output_writer(path: Path) -> Callable[[pd.DataFrame, str], None]:
    """The writer for ``path``'s suffix; checks the path before any work is done."""
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise DataError(f"{path}: unknown output format {path.suffix or '(no suffix)'!r}; use one of "
                        f"{', '.join(sorted(WRITERS))}")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file")
    if not path.parent.is_dir():
        raise DataError(f"{path.parent}: no such folder for the output")
    return writer


def read_texts(path: Path, text_col: str = "text") -> pd.DataFrame:
    """The rows of a CSV, JSONL or Parquet file with a non-empty text in ``text_col`` (else a one-line error)."""
    frame = read_table(path).reset_index(drop=True)
    if frame.empty:
        raise DataError(f"{path}: file has no rows")
    if text_col not in frame.columns:
        cols = ", ".join(map(str, frame.columns[:10]))
        raise DataError(f"{path}: no column {text_col!r} (columns: {cols}); choose one with --text-col")
    texts = frame[text_col].map(lambda t: "" if pd.isna(t) else normalise_text(str(t)))
    empty = texts == ""
    if empty.any():
        rows = ", ".join(str(i + 1) for i in empty[empty].index[:5]) + (", ..." if empty.sum() > 5 else "")
        raise DataError(f"{path}: {int(empty.sum())} rows have an empty text in {text_col!r} (data rows {rows})")
    return frame


def prediction_table(frame: pd.DataFrame, predictions: Predictions) -> pd.DataFrame:
    """The input rows plus ``predicted_label``, one ``score_<class>`` column per class and ``model_id``."""
    out = frame.copy()
    out["predicted_label"] = predictions.labels
    for j, c in enumerate(predictions.classes):
        out[f"score_{c}"] = predictions.scores[:, j]
    out["model_id"] = predictions.model_id
    return out


def write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Run ``write(temporary_path)`` next to ``path``, then rename it onto ``path``: a failure leaves no file (and
    an existing ``path`` untouched)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
