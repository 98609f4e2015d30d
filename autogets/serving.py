"""Using a registered model: load it, score texts, read and write prediction tables (``autogets predict``).

A registered model is a fitted scikit-learn style classifier on raw texts: ``predict``, ``predict_proba``,
``decision_function`` when its head has one, and ``classes_``. Per-class scores are the decision values when the
model has them, else its probabilities (see :func:`class_scores`).

A data set named by a person (``trec6``, ``tickets``, ``tickets@3fa9c1d2e4b5``) is resolved to its identity, name plus
content (:func:`autogets.identity.resolve`); its production version is that content's. Whatever version is chosen,
:func:`load_version` refuses to serve a data set whose classes differ from the model's own
(:func:`check_classes`): the one check every caller of the registry's models goes through (``predict``,
``autogets.load_model``).
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

from autogets.data import column_names, normalise_text, read_table
from autogets.errors import DataError, RegistryError
from autogets.identity import DatasetId, known, resolve
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


def resolve_version(registry: Registry, dataset: DatasetId | str | None,
                    version: int | str | None = None) -> ModelVersion:
    """The model version to use: ``version`` (an id such as ``trec6-v2``, or a number) or the data set's production
    version (of its content, when ``dataset`` is an identity with a fingerprint). A :class:`RegistryError` says how
    to promote one when there is none."""
    target = resolve(None, dataset) if isinstance(dataset, str) else dataset
    if version is None:
        if target is None:
            raise RegistryError("say which model: a data set (its production version) or a model id")
        current = registry.production(target)
        if current is None:
            raise RegistryError(f"no production model for {target.key!r}; {_how_to_get_one(registry, target)}")
        return current
    if isinstance(version, int) or re.fullmatch(r"\d+", str(version)):
        if target is None:
            raise RegistryError(f"version {version} needs a data set; or give the model id, e.g. trec6-v{version}")
        version = f"{target.name}-v{int(version)}"
    found = registry.get(str(version))
    if target is not None and found.dataset != target.name:
        raise RegistryError(f"model {found.id} belongs to data set {found.dataset!r}, not {target.name!r}")
    return found


def _how_to_get_one(registry: Registry, target: DatasetId) -> str:
    """What to do when ``target`` has no production version: promote its latest, use another content's, or train."""
    versions = registry.list(target)
    if versions:
        return f"promote one with `autogets models promote {versions[-1].id}`"
    others = [v for v in registry.list(target.name) if v.status == "production"]
    if others:
        held = ", ".join(f"{v.identity.key} ({v.id})" for v in others)
        return (f"the workspace has production models of other data sets named {target.name!r}: {held}; name one "
                f"with --dataset {others[-1].identity.key}")
    return f"train one with `autogets improve --dataset {target.name} --promote`"


def dataset_classes(db: Any, target: DatasetId) -> tuple[str, ...] | None:
    """The classes of data set ``target``: as the workspace recorded them, or as the bundled data set has them;
    None when its content is not known (a bare name, or rows from before fingerprints)."""
    if target.fingerprint is None:
        return None
    for held in known(db, target.name) if db is not None else []:
        if held.identity == target:
            return held.classes
    from autogets.data import BUNDLED, bundled_dataset, bundled_identity

    if target.name in BUNDLED and bundled_identity(target.name) == target:
        return tuple(bundled_dataset(target.name).classes)
    return None


def model_classes(record: ModelVersion, model: Any) -> tuple[str, ...]:
    """The classes a model predicts: its ``classes_``, else those of its test metrics."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        classes = record.metrics_test.get("classes", [])
    return tuple(str(c) for c in classes)


def check_classes(record: ModelVersion, model: Any, target: DatasetId, classes: Sequence[str] | None) -> None:
    """Refuse (one line, :class:`RegistryError`) to serve data set ``target`` with a model whose classes differ from
    the data set's ``classes`` (nothing to check when they are unknown)."""
    if classes is None:
        return
    mine = set(model_classes(record, model))
    theirs = {str(c) for c in classes}
    if mine == theirs:
        return

    def listed(values: set[str]) -> str:
        shown = sorted(values)
        return ", ".join(shown[:6]) + (f", … ({len(shown)} in all)" if len(shown) > 6 else "") if shown else "none"

    raise RegistryError(f"model {record.id} cannot serve {target.key}: its classes differ from the data set's (only "
                        f"the model's: {listed(mine - theirs)}; only the data set's: {listed(theirs - mine)}); "
                        f"name a model of this data set")


def load_version(dataset: str | None, version: int | str | None = None,
                 workspace: str | Path | Workspace | None = None) -> tuple[ModelVersion, Any]:
    """The version record and its fitted model (see :func:`load_model`). With a ``dataset`` (a name, or
    ``name@fingerprint``), the model must have the data set's classes (:func:`check_classes`)."""
    ws = _workspace(workspace)
    registry = Registry(ws)
    target = resolve(ws.db(), dataset) if dataset else None
    record = resolve_version(registry, target, version)
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
    if target is not None:
        check_classes(record, model, target, dataset_classes(ws.db(), target))
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
        cols = column_names(frame)
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
