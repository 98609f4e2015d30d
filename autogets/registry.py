"""Model registry (method Part A §12; issue: versions, promote, rollback).

Every accepted final model is a version: id ``<dataset>-v<N>``, parent version, training-set recipe (real ids and
synthetic texts), metrics on validation and test, who created it and when. Artifacts are written atomically
(temporary file, then rename), so a crash never leaves a half-written model. Exactly one version per dataset is in
``production``; promote and rollback are recorded with actor and time in ``model_events``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from autogets.errors import RegistryError
from autogets.workspace import Workspace, now_iso


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

    @classmethod
    def from_row(cls, row: dict) -> ModelVersion:
        return cls(**{**row, **{k: json.loads(row[k] or "{}") for k in
                                ("recipe", "metrics_validation", "metrics_test", "summary")}})


def _save_atomic(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


save_artifact = _save_atomic


class Registry:
    def __init__(self, ws: Workspace):
        self.ws = ws

    @property
    def _db(self):
        return self.ws.db()

    def register(self, model: Any, *, dataset: str, recipe: dict, metrics_validation: dict, metrics_test: dict,
                 summary: dict | None = None, parent: str | None = None, actor: str = "cli") -> ModelVersion:
        """Save the model's artifact atomically, then record it as a ``candidate`` version."""
        row = self._db.execute("SELECT coalesce(max(version), 0) FROM models WHERE dataset = ?", [dataset]).fetchone()
        version = int(row[0]) + 1
        model_id = f"{dataset}-v{version}"
        artifact = self.ws.root / "models" / dataset / f"{model_id}.joblib"
        _save_atomic(model, artifact)
        if parent is None:
            current = self.production(dataset)
            parent = current.id if current else None
        record = {"id": model_id, "dataset": dataset, "version": version, "parent": parent, "status": "candidate",
                  "recipe": json.dumps(recipe), "metrics_validation": json.dumps(metrics_validation),
                  "metrics_test": json.dumps(metrics_test), "summary": json.dumps(summary or {}),
                  "artifact": str(artifact), "created_at": now_iso(), "created_by": actor}
        with self._db.conn:
            self._db["models"].insert(record)
            self._event(model_id, dataset, "register", actor, None)
        return self.get(model_id)

    def _event(self, model_id: str, dataset: str, action: str, actor: str, previous: str | None) -> None:
        self._db["model_events"].insert({"model_id": model_id, "dataset": dataset, "action": action,
                                         "actor": actor, "at": now_iso(), "previous": previous})

    def get(self, model_id: str) -> ModelVersion:
        rows = list(self._db.query("SELECT * FROM models WHERE id = ?", [model_id]))
        if not rows:
            raise RegistryError(f"no model version {model_id!r}; see `autogets models list`")
        return ModelVersion.from_row(rows[0])

    def list(self, dataset: str | None = None) -> list[ModelVersion]:
        sql = "SELECT * FROM models" + (" WHERE dataset = ?" if dataset else "") + " ORDER BY dataset, version"
        return [ModelVersion.from_row(r) for r in self._db.query(sql, [dataset] if dataset else [])]

    def production(self, dataset: str) -> ModelVersion | None:
        rows = list(self._db.query("SELECT * FROM models WHERE dataset = ? AND status = 'production'", [dataset]))
        return ModelVersion.from_row(rows[0]) if rows else None

    def load(self, model_id: str) -> Any:
        return joblib.load(self.get(model_id).artifact)

    def promote(self, model_id: str, actor: str = "cli") -> ModelVersion:
        """Make ``model_id`` the production version of its dataset (the previous one is archived)."""
        target = self.get(model_id)
        if not Path(target.artifact).exists():
            raise RegistryError(f"artifact of {model_id} is missing: {target.artifact}")
        current = self.production(target.dataset)
        if current and current.id == model_id:
            raise RegistryError(f"{model_id} is already in production")
        with self._db.conn:
            if current:
                self._db.execute("UPDATE models SET status = 'archived' WHERE id = ?", [current.id])
            self._db.execute("UPDATE models SET status = 'production' WHERE id = ?", [model_id])
            self._event(model_id, target.dataset, "promote", actor, current.id if current else None)
        return self.get(model_id)

    def rollback(self, dataset: str, actor: str = "cli") -> ModelVersion:
        """Put back the version that was in production before the current one."""
        current = self.production(dataset)
        if current is None:
            raise RegistryError(f"no production model for {dataset!r} to roll back")
        rows = self._db.execute(
            "SELECT previous FROM model_events WHERE dataset = ? AND model_id = ? AND action IN ('promote', "
            "'rollback') ORDER BY id DESC LIMIT 1", [dataset, current.id]).fetchone()
        previous = rows[0] if rows else None
        if not previous:
            raise RegistryError(f"{current.id} has no earlier production version to roll back to")
        with self._db.conn:
            self._db.execute("UPDATE models SET status = 'archived' WHERE id = ?", [current.id])
            self._db.execute("UPDATE models SET status = 'production' WHERE id = ?", [previous])
            prior = self._db.execute(
                "SELECT previous FROM model_events WHERE dataset = ? AND model_id = ? AND action IN ('promote', "
                "'rollback') ORDER BY id DESC LIMIT 1", [dataset, previous]).fetchone()
            self._event(previous, dataset, "rollback", actor, prior[0] if prior else None)
        return self.get(previous)

    def for_run(self, run_id: str) -> ModelVersion | None:
        """The version an ``improve`` run registered, if any (a re-run of the register step finds it)."""
        rows = list(self._db.query("SELECT * FROM models WHERE json_extract(summary, '$.run_id') = ?", [run_id]))
        return ModelVersion.from_row(rows[0]) if rows else None

    def register_file(self, path: Path, **kwargs: Any) -> ModelVersion:
        """Register a model saved at ``path`` (see :meth:`register`)."""
        return self.register(joblib.load(path), **kwargs)

    def events(self, dataset: str | None = None) -> list[dict]:
        sql = "SELECT * FROM model_events" + (" WHERE dataset = ?" if dataset else "") + " ORDER BY id"
        return list(self._db.query(sql, [dataset] if dataset else []))
