"""Model registry (method Part A §12; issue: versions, promote, rollback).

Every accepted final model is a version: id ``<name>-v<N>``, parent version, training-set recipe (real ids and
synthetic texts), metrics on validation and test, who created it and when. Artifacts are written atomically
(temporary file, then rename), so a crash never leaves a half-written model. Exactly one version per data set is in
``production``; promote and rollback are recorded with actor and time in ``model_events``.

A data set is its identity, name plus content fingerprint (:class:`autogets.identity.DatasetId`): two contents named
``tickets`` each have their own lineage (parents) and production version. Version numbers count per name across
contents, so ids stay readable and unique (``tickets-v1`` of one file, ``tickets-v2`` of the other), and the files
live in ``models/<name>/``. Methods take an identity or a plain string (:func:`autogets.identity.as_identity`: a bare
name matches every content of that name, and :meth:`Registry.production` refuses one that names several).

Concurrency: the version number, the artifact's final name and the row are settled in one write transaction
(``BEGIN IMMEDIATE``), so processes registering at once get distinct versions and artifacts; promote and rollback
read and change the production version in one write transaction too.

Crashes: the artifact is renamed to its final name inside that transaction, just before the row is committed. A
process killed between the two would leave a file with a version's name and no row, so the rename is announced
first by a marker file (``.pending-*``, naming the version and the file) that is removed once the row is committed.
Every registration first sweeps the folder under the write lock: a marker whose version has no row with that file is
a registration that died, and its file is deleted (files the registry did not write are never touched). Temporary
files (``.new-*.joblib.tmp``) left by a process killed while writing a model are deleted after an hour.

MLflow (``AUTOGETS_MLFLOW_TRACKING_URI`` or ``[autogets.mlflow] tracking_uri``; :mod:`autogets.mlflow_sync`): this
registry stays the source of truth and MLflow mirrors it. A version registered while MLflow is configured is written
with ``summary.mlflow = {"state": "pending"}`` in the same transaction as its row; after every registry change
(register, promote, rollback) and on ``autogets models sync``, :meth:`Registry.sync_mlflow` pushes what is pending
(the version as an MLflow run and model version; the ``production`` alias to where this registry says) and records
the MLflow run id and version in ``summary.mlflow``. A sync that fails (server unreachable) never fails the registry
operation: the work stays pending, :attr:`Registry.mlflow_status` says what happened in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from autogets.errors import RegistryError
from autogets.identity import DatasetId, as_identity
from autogets.workspace import Workspace, artifact_relpath, now_iso, write_transaction


@dataclass(frozen=True)
class ModelVersion:
    id: str
    dataset: str
    version: int
    parent: str | None
    status: str
    recipe: dict
    metrics_validation: dict
    metrics_test: dict
    summary: dict
    artifact: str
    created_at: str
    created_by: str
    dataset_fp: str | None = None
    """The content fingerprint of the data set (None for a version from before fingerprints, content unknown)."""

    @property
    def identity(self) -> DatasetId:
        return DatasetId(self.dataset, self.dataset_fp)

    @classmethod
    def from_row(cls, row: dict, root: Path | None = None) -> ModelVersion:
        """The version of a ``models`` row; with the workspace ``root``, ``artifact`` is the file's path in it (the
        row stores it relative to the root: see :func:`autogets.workspace.artifact_relpath`)."""
        values = {**row, **{k: json.loads(row[k] or "{}") for k in
                            ("recipe", "metrics_validation", "metrics_test", "summary")}}
        if root is not None:
            values["artifact"] = str(root / artifact_relpath(row["dataset"], row["artifact"]))
        return cls(**values)


def _write_temp(folder: Path, write: Callable[[str], Any]) -> Path:
    """A new, uniquely named temporary file in ``folder``, filled by ``write(path)`` (removed if that fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".new-", suffix=".joblib.tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: readable like the workspace's other files
    except BaseException as exc:
        _unlink(Path(tmp))
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file: name it (full disk)
            exc.filename = tmp
        raise
    return Path(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _dump_temp(obj: Any, folder: Path) -> Path:
    """Write ``obj`` to a new, uniquely named temporary file in ``folder``."""
    return _write_temp(folder, lambda tmp: joblib.dump(obj, tmp))


def _free_path(folder: Path, model_id: str) -> Path:
    """``<model_id>.joblib`` in ``folder``, or, if some file already has that name, ``<model_id>-<random>.joblib``.
    Called under the registry's write lock, so no other registration can take the name before the rename."""
    path = folder / f"{model_id}.joblib"
    while path.exists():
        path = folder / f"{model_id}-{secrets.token_hex(4)}.joblib"
    return path


def _unlink(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


STALE_TEMP_SECONDS = 3600
"""A temporary model file this old belongs to a registration that died (writing one takes seconds)."""


def _announce(folder: Path, model_id: str, final: Path) -> Path:
    """Write the marker of a rename about to happen (see the module docstring)."""
    fd, marker = tempfile.mkstemp(prefix=".pending-", dir=folder)
    with os.fdopen(fd, "w") as fh:
        json.dump({"model_id": model_id, "file": final.name}, fh)
    return Path(marker)


def _sweep(folder: Path, db) -> None:
    """Delete what registrations that died left in ``folder``. Call under the write lock."""
    if not folder.is_dir():
        return
    for marker in folder.glob(".pending-*"):
        try:
            note = json.loads(marker.read_text() or "{}")
        except (OSError, ValueError):
            note = {}
        name = Path(str(note.get("file", ""))).name
        if name and name.endswith(".joblib"):
            row = db.execute("SELECT artifact FROM models WHERE id = ?", [str(note.get("model_id", ""))]).fetchone()
            if row is None or Path(row[0]).name != name:
                _unlink(folder / name)
        _unlink(marker)
    cutoff = time.time() - STALE_TEMP_SECONDS
    for tmp in folder.glob(".new-*.joblib.tmp"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()


def save_artifact(obj: Any, path: Path) -> Path:
    """Write ``obj`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_dump_temp(obj, path.parent), path)
    return path


_FROM_SETTINGS: Any = object()


class Registry:
    def __init__(self, ws: Workspace, *, mlflow_uri: str | None = _FROM_SETTINGS):
        """``mlflow_uri``: the MLflow tracking URI to mirror versions to (default: the settings', usually unset)."""
        self.ws = ws
        self._mlflow_uri = mlflow_uri
        self.mlflow_status: Any = None
        """The outcome of the last MLflow sync this registry ran (:class:`autogets.mlflow_sync.SyncOutcome`), or
        None (MLflow not configured, or nothing synced yet)."""

    @property
    def mlflow_uri(self) -> str | None:
        if self._mlflow_uri is _FROM_SETTINGS:
            from autogets.config import load_settings

            self._mlflow_uri = load_settings().mlflow.tracking_uri
        return self._mlflow_uri

    @property
    def mlflow_warning(self) -> str | None:
        """One line when the last MLflow sync left work pending (to show on the CLI or say in a thread)."""
        status = self.mlflow_status
        return None if status is None or status.ok else status.line()

    def sync_mlflow(self, *, backfill: bool = False) -> Any:
        """Push what is pending to MLflow (see the module docstring); ``backfill``: also versions never logged there
        (registered before MLflow was configured, or logged to another tracking URI). Never raises: the outcome
        (:class:`autogets.mlflow_sync.SyncOutcome`, None if MLflow is not configured) is returned and kept in
        :attr:`mlflow_status`."""
        uri = self.mlflow_uri
        if not uri:
            return None
        from autogets.mlflow_sync import sync

        self.mlflow_status = sync(self, uri, backfill=backfill)
        return self.mlflow_status

    @property
    def _db(self):
        return self.ws.db()

    def register(self, model: Any, *, dataset: DatasetId | str, recipe: dict, metrics_validation: dict,
                 metrics_test: dict, summary: dict | None = None, parent: str | None = None,
                 actor: str = "cli") -> ModelVersion:
        """Save the model's artifact and record it as a ``candidate`` version.

        ``parent`` is the version the model was trained from, which must be or have been in production; by default,
        the version in production at registration time (None if there is none). The model is written to a temporary
        file first; the version number, the artifact's final path (naming the version; an existing file is never
        replaced) and the row are settled in one write transaction.
        """
        folder = self.ws.root / "models" / as_identity(dataset).name
        return self._record(_dump_temp(model, folder), folder, dataset=dataset, recipe=recipe,
                            metrics_validation=metrics_validation, metrics_test=metrics_test, summary=summary,
                            parent=parent, actor=actor)

    def register_file(self, path: Path, *, dataset: DatasetId | str, **kwargs: Any) -> ModelVersion:
        """Register a model already saved at ``path`` (see :meth:`register`): its bytes are copied, never
        unpickled and pickled again (a round trip some native models, e.g. CatBoost, do not survive)."""
        folder = self.ws.root / "models" / as_identity(dataset).name
        return self._record(_write_temp(folder, lambda tmp: shutil.copyfile(path, tmp)), folder, dataset=dataset,
                            **kwargs)

    def _record(self, tmp: Path, folder: Path, *, dataset: DatasetId | str, recipe: dict, metrics_validation: dict,
                metrics_test: dict, summary: dict | None = None, parent: str | None = None,
                actor: str = "cli") -> ModelVersion:
        ident = as_identity(dataset)
        if self.mlflow_uri:  # mirrored to MLflow after the commit; pending until then (a crash keeps it pending)
            summary = {**(summary or {}), "mlflow": {"state": "pending", "since": now_iso()}}
        artifact: Path | None = None
        marker: Path | None = None
        try:
            with write_transaction(self._db) as db:
                _sweep(folder, db)
                row = db.execute("SELECT coalesce(max(version), 0) FROM models WHERE dataset = ?",
                                 [ident.name]).fetchone()  # numbered per name, across contents
                version = int(row[0]) + 1
                model_id = f"{ident.name}-v{version}"
                parent_id = self._parent(ident, parent)
                final = _free_path(folder, model_id)
                marker = _announce(folder, model_id, final)
                os.replace(tmp, final)
                artifact = final
                db["models"].insert({
                    "id": model_id, **ident.columns(), "version": version, "parent": parent_id,
                    "status": "candidate", "recipe": json.dumps(recipe),
                    "metrics_validation": json.dumps(metrics_validation), "metrics_test": json.dumps(metrics_test),
                    "summary": json.dumps(summary or {}),
                    "artifact": final.relative_to(self.ws.root).as_posix(), "created_at": now_iso(),
                    "created_by": actor})
                self._event(model_id, ident, "register", actor, None)
        except BaseException:
            _unlink(tmp)
            _unlink(artifact)
            _unlink(marker)
            raise
        _unlink(marker)  # committed: the row names the file
        self.sync_mlflow()
        return self.get(model_id)

    def _parent(self, dataset: DatasetId, parent: str | None) -> str | None:
        """The parent to record: ``parent`` checked, or the current production version of the same data set
        (content included; call under the lock)."""
        if parent is None:
            current = self.production(dataset)
            return current.id if current else None
        model = self.get(parent)
        if not model.identity.matches(dataset):
            raise RegistryError(f"parent {parent} is a model of {model.identity.key!r}, not of {dataset.key!r}")
        was_production = model.status == "production" or self._db.execute(
            "SELECT 1 FROM model_events WHERE model_id = ? AND action IN ('promote', 'rollback') LIMIT 1",
            [parent]).fetchone()
        if not was_production:
            raise RegistryError(f"{parent} was never in production; a parent must be a version that was")
        return parent

    def _event(self, model_id: str, dataset: DatasetId, action: str, actor: str, previous: str | None) -> None:
        self._db["model_events"].insert({"model_id": model_id, **dataset.columns(), "action": action,
                                         "actor": actor, "at": now_iso(), "previous": previous})

    def get(self, model_id: str) -> ModelVersion:
        rows = list(self._db.query("SELECT * FROM models WHERE id = ?", [model_id]))
        if not rows:
            raise RegistryError(f"no model version {model_id!r}; see `autogets models list`")
        return self._version(rows[0])

    def _version(self, row: dict) -> ModelVersion:
        return ModelVersion.from_row(row, self.ws.root)

    def list(self, dataset: DatasetId | str | None = None) -> list[ModelVersion]:
        where, args = as_identity(dataset).where() if dataset else ("1", [])
        return [self._version(r) for r in self._db.query(f"SELECT * FROM models WHERE {where} ORDER BY dataset, "
                                                         "version", args)]

    def production(self, dataset: DatasetId | str) -> ModelVersion | None:
        """The production version of ``dataset``, or None. A bare name that has a production version under several
        contents is refused (:class:`RegistryError` naming them)."""
        ident = as_identity(dataset)
        where, args = ident.where()
        rows = [self._version(r) for r in self._db.query(
            f"SELECT * FROM models WHERE {where} AND status = 'production' ORDER BY dataset_fp IS NULL, version",
            args)]
        contents = {v.dataset_fp for v in rows if v.dataset_fp is not None}
        if ident.fingerprint is None and len(contents) > 1:
            listed = ", ".join(f"{v.id} of {v.identity.key}" for v in rows if v.dataset_fp is not None)
            raise RegistryError(f"{ident.name!r} names {len(contents)} data sets with a production model ({listed}); "
                                f"say which, e.g. {rows[-1].identity.key}")
        return rows[0] if rows else None

    def load(self, model_id: str) -> Any:
        return joblib.load(self.get(model_id).artifact)

    def promote(self, model_id: str, actor: str = "cli") -> ModelVersion:
        """Make ``model_id`` the production version of its dataset (the previous one is archived)."""
        with write_transaction(self._db) as db:
            target = self.get(model_id)
            if not Path(target.artifact).exists():
                raise RegistryError(f"artifact of {model_id} is missing: {target.artifact}")
            current = self.production(target.identity)
            if current and current.id == model_id:
                raise RegistryError(f"{model_id} is already in production")
            if current:
                db.execute("UPDATE models SET status = 'archived' WHERE id = ?", [current.id])
            db.execute("UPDATE models SET status = 'production' WHERE id = ?", [model_id])
            self._event(model_id, target.identity, "promote", actor, current.id if current else None)
        self.sync_mlflow()
        return self.get(model_id)

    def rollback(self, dataset: DatasetId | str, actor: str = "cli") -> ModelVersion:
        """Put back the version that was in production before the current one (of the same content)."""
        with write_transaction(self._db) as db:
            current = self.production(dataset)
            if current is None:
                raise RegistryError(f"no production model for {as_identity(dataset).key!r} to roll back")
            previous = self._previous(current.id)
            if not previous:
                raise RegistryError(f"{current.id} has no earlier production version to roll back to")
            db.execute("UPDATE models SET status = 'archived' WHERE id = ?", [current.id])
            db.execute("UPDATE models SET status = 'production' WHERE id = ?", [previous])
            self._event(previous, self.get(previous).identity, "rollback", actor, self._previous(previous))
        self.sync_mlflow()
        return self.get(previous)

    def for_run(self, run_id: str) -> ModelVersion | None:
        """The version an ``improve`` run registered, if any (a re-run of the register step finds it)."""
        rows = list(self._db.query("SELECT * FROM models WHERE json_extract(summary, '$.run_id') = ?", [run_id]))
        return self._version(rows[0]) if rows else None

    def set_mlflow(self, model_id: str, record: dict) -> None:
        """Store ``record`` as the version's ``summary.mlflow`` (what this registry knows of its MLflow mirror)."""
        with write_transaction(self._db) as db:
            db.execute("UPDATE models SET summary = json_set(coalesce(summary, '{}'), '$.mlflow', json(?)) "
                       "WHERE id = ?", [json.dumps(record), model_id])

    def with_recipe(self, dataset: DatasetId | str, recipe: dict) -> ModelVersion | None:
        """The earliest version of ``dataset`` trained from exactly ``recipe`` (the same real rows, synthetic texts,
        classifier and refit), if any: registering it again would only add a second name for the same model."""
        wanted = json.dumps(recipe, sort_keys=True)
        where, args = as_identity(dataset).where()
        for row in self._db.query(f"SELECT * FROM models WHERE {where} ORDER BY version", args):
            if json.dumps(json.loads(row["recipe"] or "{}"), sort_keys=True) == wanted:
                return ModelVersion.from_row(row)
        return None

    def _previous(self, model_id: str) -> str | None:
        """The version that was in production before ``model_id`` last became production (model ids are unique in
        a workspace, so its events are its data set's)."""
        row = self._db.execute(
            "SELECT previous FROM model_events WHERE model_id = ? AND action IN ('promote', 'rollback') ORDER BY id "
            "DESC LIMIT 1", [model_id]).fetchone()
        return row[0] if row else None

    def events(self, dataset: DatasetId | str | None = None) -> list[dict]:
        where, args = as_identity(dataset).where() if dataset else ("1", [])
        return list(self._db.query(f"SELECT * FROM model_events WHERE {where} ORDER BY id", args))
