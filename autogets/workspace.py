"""The workspace: one folder holding the SQLite database and every artifact (reports, models, converted LLMs).

Default ``./.autogets``; ``AUTOGETS_HOME`` or ``--workspace`` override it. The folder and the database schema are
created on first use (never by a command that fails validation). The schema is versioned: ``MIGRATIONS[i]``
brings a database from version ``i`` to ``i + 1``, each in one transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from autogets.errors import WorkspaceError


def _v1(db: sqlite_utils.Database) -> None:
    db["runs"].create({"id": str, "kind": str, "dataset": str, "status": str, "created_at": str,
                       "finished_at": str, "params": str, "result": str, "report_dir": str}, pk="id")
    db["runs"].create_index(["dataset", "kind"])


def _v2(db: sqlite_utils.Database) -> None:
    db["generations"].create({
        "generator": str, "model": str, "prompt_version": str, "source_hash": str, "sample_index": int,
        "source_id": int, "label": str, "text": str, "raw": str, "status": str, "created_at": str,
    }, pk=("generator", "model", "prompt_version", "source_hash", "sample_index"))
    db["generations"].create_index(["label"])


def _v3(db: sqlite_utils.Database) -> None:
    db["candidates"].create({
        "run_id": str, "idx": int, "phase": int, "strategy": str, "selection": str, "n_sources": int,
        "n_synthetic": int, "objective": str, "gain": float, "key": str, "metrics": str, "fit_seconds": float,
    }, pk=("run_id", "phase", "idx"))


def _v4(db: sqlite_utils.Database) -> None:
    db["models"].create({
        "id": str, "dataset": str, "version": int, "parent": str, "status": str, "recipe": str,
        "metrics_validation": str, "metrics_test": str, "summary": str, "artifact": str, "created_at": str,
        "created_by": str,
    }, pk="id")
    db["models"].create_index(["dataset", "version"], unique=True)
    db["model_events"].create({"id": int, "model_id": str, "dataset": str, "action": str, "actor": str, "at": str,
                               "previous": str}, pk="id")
    db["knowledge"].create({
        "dataset": str, "seed": int, "class": str, "strategy": str, "objective": str, "generator": str,
        "budget": int, "val_gain": float, "test_gain": float, "evaluations": int, "fit_seconds": float,
        "class_size": int, "m0_recall": float, "m0_cba": float, "effects": str, "run_id": str, "created_at": str,
    }, pk=("dataset", "seed", "class", "strategy", "objective", "generator", "budget"))


def _v5(db: sqlite_utils.Database) -> None:
    db["bench_cells"].create({
        "config": str, "dataset": str, "seed": int, "class": str, "generator": str, "objective": str, "method": str,
        "val_gain": float, "m0_cba": float, "cba": float, "m0_oba": float, "oba": float, "m0_accuracy": float,
        "accuracy": float, "n_sources": int, "n_synthetic": int, "evaluations": int, "seconds": float, "curve": str,
        "created_at": str,
    }, pk=("config", "dataset", "seed", "class", "generator", "objective", "method"))


def _v7_runs(db: sqlite_utils.Database) -> None:
    """The main job in steps (autogets.steps): each step's result, the samples shown for review, review decisions
    (per synthetic text, kept across runs of a data set) and raw candidate evaluations (for resuming a search)."""
    db["run_steps"].create({"run_id": str, "step": str, "data": str, "at": str}, pk=("run_id", "step"))
    db["run_samples"].create({
        "run_id": str, "key": str, "round": int, "position": int, "source_id": int, "sample_index": int,
        "label": str, "text": str, "source_text": str, "generator": str, "model": str, "prompt_version": str,
    }, pk=("run_id", "key"))
    db["reviews"].create({"run_id": str, "dataset": str, "key": str, "text_key": str, "decision": str,
                          "actor": str, "at": str}, pk=("run_id", "key"))
    db["reviews"].create_index(["dataset", "decision"])
    db["evaluations"].create({"run_id": str, "phase": int, "selection": str, "raw": str}, pk=("run_id", "phase",
                                                                                               "selection"))


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v7_runs]
SCHEMA_VERSION = len(MIGRATIONS)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Workspace:
    """A workspace folder. Cheap to construct: nothing touches the disk until :meth:`db` or an artifact call."""

    def __init__(self, root: str | Path = ".autogets"):
        self.root = Path(root)
        self._db: sqlite_utils.Database | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "autogets.db"

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc.strerror}") from None

    def db(self) -> sqlite_utils.Database:
        """The workspace database, migrated to the current schema."""
        if self._db is None:
            self._ensure_root()
            try:
                conn = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                db = sqlite_utils.Database(conn)
                migrate(db)
            except sqlite3.DatabaseError as exc:
                raise WorkspaceError(f"{self.db_path}: not a usable SQLite database ({exc})") from None
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None

    def path(self, *parts: str) -> Path:
        """A path inside the workspace (its parent folders are created)."""
        target = self.root.joinpath(*parts)
        self._ensure_root()
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def report_dir(self, kind: str, dataset: str, run_id: str) -> Path:
        return self.root / "reports" / f"{kind}-{dataset}-{run_id}"

    def record_run(self, run_id: str, kind: str, dataset: str, *, started_at: str, params: dict, result: dict,
                   report_dir: Path) -> None:
        """Record a finished job (diagnose, search, improve) in the ``runs`` table."""
        self.db()["runs"].insert({"id": run_id, "kind": kind, "dataset": dataset, "status": "done",
                                  "created_at": started_at, "finished_at": now_iso(), "params": json.dumps(params),
                                  "result": json.dumps(result, default=_json_default), "report_dir": str(report_dir)})


def migrate(db: sqlite_utils.Database) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; returns the version it had."""
    db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
    row = db.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise WorkspaceError(f"workspace schema version {version} is newer than this autogets ({SCHEMA_VERSION})")
    for target in range(version, SCHEMA_VERSION):
        with db.conn:
            MIGRATIONS[target](db)
            db.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES ('schema_version', ?)", [str(target + 1)])
    return version


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.urandom(2).hex()}"


@contextlib.contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it to ``final`` only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2, default=_json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
