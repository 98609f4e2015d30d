"""The workspace: one folder holding the SQLite database and every artifact (reports, models, converted LLMs).

Default ``./.autogets``; ``AUTOGETS_HOME`` or ``--workspace`` override it. The folder and the database schema are
created on first use (never by a command that fails validation). The schema is versioned: ``MIGRATIONS[i]``
brings a database from version ``i`` to ``i + 1``; pending migrations run under the database's write lock, so
processes opening a new workspace at once apply each of them exactly once.

Concurrency: every thread gets its own SQLite connection (WAL journal, busy timeout); a read-then-write step runs in
:func:`write_transaction` (``BEGIN IMMEDIATE``), which waits for the write lock instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from autogets import faults
from autogets.errors import DiskFull, WorkspaceError


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


_KNOWLEDGE_COLUMNS = ("dataset", "seed", "class", "strategy", "objective", "generator", "budget", "val_gain",
                      "test_gain", "evaluations", "fit_seconds", "class_size", "m0_recall", "m0_cba", "effects",
                      "run_id", "created_at")


def _v6(db: sqlite_utils.Database) -> None:
    """Knowledge map: every observation of a cell is kept (an ``id`` key instead of the cell as primary key)."""
    cols = ", ".join(f'"{c}"' for c in _KNOWLEDGE_COLUMNS)
    db.execute('CREATE TABLE "knowledge_v6" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "dataset" TEXT, "seed" INTEGER, '
               '"class" TEXT, "strategy" TEXT, "objective" TEXT, "generator" TEXT, "budget" INTEGER, '
               '"val_gain" REAL, "test_gain" REAL, "evaluations" INTEGER, "fit_seconds" REAL, "class_size" INTEGER, '
               '"m0_recall" REAL, "m0_cba" REAL, "effects" TEXT, "run_id" TEXT, "created_at" TEXT)')
    db.execute(f'INSERT INTO "knowledge_v6" ({cols}) SELECT {cols} FROM "knowledge" ORDER BY "created_at", rowid')
    db.execute('DROP TABLE "knowledge"')
    db.execute('ALTER TABLE "knowledge_v6" RENAME TO "knowledge"')
    db.execute('CREATE INDEX "idx_knowledge_cell" ON "knowledge" ("dataset", "seed", "class", "strategy", '
               '"objective", "generator", "budget")')


def _v7(db: sqlite_utils.Database) -> None:
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


BENCH_EXTERNAL_COLUMNS = ("ext_m0_cba", "ext_cba", "ext_m0_oba", "ext_oba", "ext_m0_accuracy", "ext_accuracy")


def _v8(db: sqlite_utils.Database) -> None:
    """Quality benchmark cells scored on an external test too (``bench quality --external-test``): M0's and the
    final model's class CBA, OBA and accuracy on it; NULL for cells measured without one."""
    for col in BENCH_EXTERNAL_COLUMNS:
        db.execute(f'ALTER TABLE "bench_cells" ADD COLUMN "{col}" REAL')


def _v9(db: sqlite_utils.Database) -> None:
    """The knowledge map records the classifier each observation was made with (issue 21; plans use only cells of
    the run's own classifier, split seed and generator). Older rows: NULL (unknown, never planned from)."""
    db.execute('ALTER TABLE "knowledge" ADD COLUMN "classifier" TEXT')


def _v10(db: sqlite_utils.Database) -> None:
    """Model artifacts are named relative to the workspace root (``models/<data set>/<file>``), so a moved or copied
    workspace uses its own files; the absolute (or working-folder-relative) paths stored before are rewritten."""
    for model_id, dataset, stored in db.execute("SELECT id, dataset, artifact FROM models").fetchall():
        relative = artifact_relpath(dataset, stored)
        if relative != stored:
            db.execute("UPDATE models SET artifact = ? WHERE id = ?", [relative, model_id])


def artifact_relpath(dataset: str, stored: str) -> str:
    """A registry artifact's path relative to the workspace root. The registry always wrote ``<root>/models/<data
    set>/<file>``; paths stored before they were relative carry the root of the day (absolute, or relative to the
    working folder), which is dropped: the file is the one of that name in this workspace's folder of the data set."""
    path = Path(stored)
    if not path.is_absolute() and path.parts[:1] == ("models",):
        return path.as_posix()
    return (Path("models") / dataset / path.name).as_posix()


IDENTITY_TABLES = ("runs", "models", "model_events", "reviews", "knowledge")
"""The tables that key state by data set: each has ``dataset`` (the name) and, from version 11, ``dataset_fp``."""


def _v11(db: sqlite_utils.Database) -> None:
    """A data set's identity is its name plus a content fingerprint (issue 23 item 1, :mod:`autogets.identity`):
    column ``dataset_fp`` in every table that keys state by data set (:data:`IDENTITY_TABLES`), and table
    ``datasets``, the identities the workspace has seen (classes, source file, rows).

    Backfill: rows provably made on a bundled data set as shipped get its fingerprint — an ``improve`` run whose
    stored request names a bundled data set (not a file), the versions it registered and their events, its review
    decisions and its knowledge-map rows. The fingerprint is computed by loading the bundled file with the run's own
    options (tenths of a second per distinct option set; nothing is loaded for a workspace without such runs). Every
    other row keeps NULL, content unknown, and matches by name alone as before
    (:meth:`autogets.identity.DatasetId.where`): runs on data files (the file may have changed or gone since),
    ``search``, ``kb build`` and ``diagnose`` runs (their stored parameters do not say where the data came from), and
    versions registered without a run. Rows that already have a fingerprint keep it (a database whose version was
    set back runs this again)."""
    for table in IDENTITY_TABLES:
        if "dataset_fp" not in db[table].columns_dict:
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN "dataset_fp" TEXT')
    db["datasets"].create({"name": str, "fingerprint": str, "classes": str, "source": str, "rows": int,
                           "first_seen": str}, pk=("name", "fingerprint"), if_not_exists=True)
    by_run = _bundled_fingerprints(db)
    for run_id, fp in by_run.items():
        for table, column in (("runs", "id"), ("reviews", "run_id"), ("knowledge", "run_id")):
            db.execute(f'UPDATE "{table}" SET dataset_fp = ? WHERE "{column}" = ? AND dataset_fp IS NULL',
                       [fp, run_id])
    for model_id, run_id in db.execute("SELECT id, json_extract(summary, '$.run_id') FROM models").fetchall():
        if run_id in by_run:
            for table, column in (("models", "id"), ("model_events", "model_id")):
                db.execute(f'UPDATE "{table}" SET dataset_fp = ? WHERE "{column}" = ? AND dataset_fp IS NULL',
                           [by_run[run_id], model_id])


def _bundled_fingerprints(db: sqlite_utils.Database) -> dict[str, str]:
    """For :func:`_v11`: the fingerprint of each ``improve`` run made on a bundled data set (by its stored request),
    each such data set recorded in ``datasets``."""
    from autogets.data import BUNDLED, load_dataset
    from autogets.errors import DataError
    from autogets.identity import remember

    loaded: dict[tuple, Any] = {}
    found: dict[str, str] = {}
    for run_id, name, params in db.execute("SELECT id, dataset, params FROM runs WHERE kind = 'improve'").fetchall():
        try:
            spec = json.loads(params or "{}")
        except ValueError:
            continue
        if not isinstance(spec, dict) or spec.get("dataset") != name or name not in BUNDLED or spec.get("data_path"):
            continue
        options = (name, spec.get("text_col", "text"), spec.get("label_col", "label"), spec.get("id_col"),
                   spec.get("min_class_size"))
        if options not in loaded:
            try:
                loaded[options] = load_dataset(name, text_col=options[1], label_col=options[2], id_col=options[3],
                                               min_class_size=options[4])
                remember(db, loaded[options])
            except DataError:
                loaded[options] = None
        if loaded[options] is not None:
            found[run_id] = loaded[options].fingerprint
    return found


def _v12(db: sqlite_utils.Database) -> None:
    """Each generation records the real texts its prompt showed besides the source (few-shot and contrast examples,
    as a JSON list of text hashes), in the cache and in a run's review list, so a cv fold drops a synthetic text
    whose shots it holds out (issue 23 item 3). Older rows: NULL (none recorded; those texts were generated with
    the shots of a scheme whose cache key no longer matches, so they are not served again)."""
    for table in ("generations", "run_samples"):
        if "shown" not in db[table].columns_dict:  # a database whose version was set back runs this again
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN "shown" TEXT')


def _v13(db: sqlite_utils.Database) -> None:
    """Each quality benchmark cell records its M0 classifier (with ``auto``, chosen per seed and class; issue 21).
    Older cells: NULL (not recorded)."""
    if "classifier" not in db["bench_cells"].columns_dict:
        db.execute('ALTER TABLE "bench_cells" ADD COLUMN "classifier" TEXT')


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10,
                                                             _v11, _v12, _v13]
SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 60_000
"""How long a connection waits for another writer's lock before failing with "database is locked"."""


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Workspace:
    """A workspace folder. Cheap to construct: nothing touches the disk until :meth:`db` or an artifact call.

    One object may be shared by threads: :meth:`db` gives each thread (of each process) its own connection.
    """

    def __init__(self, root: str | Path = ".autogets"):
        self.root = Path(root)
        faults.remember(self.root)  # to name it in a one-line error (full disk, read-only, damaged database)
        self._local = threading.local()
        self._open: weakref.WeakSet[sqlite_utils.Database] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._migrated = False
        self._read_only = False

    @property
    def db_path(self) -> Path:
        return self.root / "autogets.db"

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc.strerror}") from None

    def model_files(self) -> list[Path]:
        """The model versions' files in the registry's folders (``models/<data set>/*.joblib``)."""
        return sorted(self.root.glob("models/*/*.joblib"))

    def check_database(self) -> None:
        """Refuse a workspace whose database was lost (an empty or missing ``autogets.db``) while the registry's
        folders hold model files: opening it would make a new, empty database, and the next registration a second
        ``<data set>-v1`` beside the old one."""
        with contextlib.suppress(OSError):
            if self.db_path.stat().st_size > 0:
                return
        files = self.model_files()
        if not files:
            return
        state = "empty" if self.db_path.exists() else "missing"
        raise WorkspaceError(f"{self.db_path} is {state} but {self.root / 'models'} holds {len(files)} model "
                             f"file{'s' if len(files) > 1 else ''} (e.g. {files[0].relative_to(self.root)}): the "
                             f"database that records them was lost; restore autogets.db from a backup, or move the "
                             f"models folder aside to start an empty workspace")

    def writable(self) -> bool:
        """Whether this process may write the workspace: its folder (SQLite makes its ``-wal`` and ``-shm`` files
        there) and its database. A workspace not created yet counts as writable (creating it reports its own
        error). False on a read-only mount, or without write permission."""
        if not self.root.exists():
            return True
        return os.access(self.root, os.W_OK) and (not self.db_path.exists() or os.access(self.db_path, os.W_OK))

    @property
    def read_only(self) -> bool:
        """Whether :meth:`db` opened the database read-only (see :meth:`writable`)."""
        return self._read_only

    def require_writable(self) -> None:
        """For commands that write: refuse a read-only workspace at once, in one line, before any work."""
        if not self.writable():
            raise WorkspaceError(faults.read_only(self.root))

    def db(self) -> sqlite_utils.Database:
        """This thread's connection to the workspace database, migrated to the current schema. A workspace that
        cannot be written is opened read-only, without migrations (its schema must be current): reading works,
        and a write fails with SQLite's "attempt to write a readonly database" (one line in the CLI)."""
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            return db
        self.check_database()
        if self.db_path.exists() and not self.writable():
            db = self._connect_read_only()
        else:
            db = self._connect_writable()
        self._local.db, self._local.pid = db, os.getpid()
        with self._lock:
            self._open.add(db)
        return db

    def _connect_writable(self) -> sqlite_utils.Database:
        self._ensure_root()
        try:
            db = connect(self.db_path)
            try:
                if not self._migrated:
                    migrate(db)
                    self._migrated = True
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:  # damaged, or a full disk or read-only folder while opening it
            problem = faults.database_problem(self.db_path, exc)
            raise (DiskFull if faults.is_disk_full(exc) else WorkspaceError)(problem) from None
        return db

    def _connect_read_only(self) -> sqlite_utils.Database:
        try:
            db = sqlite_utils.Database(connect_read_only(self.db_path))
            version = _schema_version(db)
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(faults.database_problem(self.db_path, exc)) from None
        if version != SCHEMA_VERSION:
            db.close()
            raise WorkspaceError(f"workspace {self.root} is read-only and its database has schema version {version}; "
                                 f"this autogets needs {SCHEMA_VERSION}: run any command once where it can be "
                                 f"written, which upgrades it")
        self._read_only = True
        return db

    def close(self) -> None:
        """Close every thread's connection (call it when no thread uses the workspace any more)."""
        with self._lock:
            dbs, self._open = list(self._open), weakref.WeakSet()
        for db in dbs:
            db.close()
        self._local = threading.local()

    def path(self, *parts: str) -> Path:
        """A path inside the workspace (its parent folders are created)."""
        target = self.root.joinpath(*parts)
        self._ensure_root()
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def report_dir(self, kind: str, dataset: str, run_id: str) -> Path:
        """``reports/<kind>-<dataset>-<run id>``; control characters of the data set's name (a data file's name)
        made visible (:func:`autogets.textfmt.visible_controls`), so listing the folder shows no escape sequence."""
        from autogets.textfmt import visible_controls

        return self.root / "reports" / f"{kind}-{visible_controls(dataset, keep='')}-{run_id}"

    def stored_report_dir(self, stored: str | Path) -> Path:
        """A run's report folder as stored in the ``runs`` table (``<root of the day>/reports/<name>``), in this
        workspace wherever it is now (moved or copied)."""
        return self.root / "reports" / Path(stored).name

    def record_run(self, run_id: str, kind: str, dataset: Any, *, started_at: str, params: dict, result: dict,
                   report_dir: Path) -> None:
        """Record a finished job (diagnose, search, improve) in the ``runs`` table; ``dataset``: the
        :class:`autogets.data.Dataset` it ran on (its identity is stored and the data set remembered), or an
        identity or name (:func:`autogets.identity.as_identity`)."""
        from autogets.identity import as_identity, remember

        db = self.db()
        with db.conn:
            if hasattr(dataset, "identity"):
                remember(db, dataset)
            identity = getattr(dataset, "identity", None) or as_identity(dataset)
            db["runs"].insert({"id": run_id, "kind": kind, **identity.columns(), "status": "done",
                               "created_at": started_at, "finished_at": now_iso(), "params": json.dumps(params),
                               "result": json.dumps(result, default=json_default), "report_dir": str(report_dir)})


def connect(path: str | Path) -> sqlite_utils.Database:
    """A new connection to a workspace database: WAL journal and a busy timeout. Use it from one thread only
    (``check_same_thread`` is off just so that :meth:`Workspace.close` can close every thread's connection)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to a SQLite file on a read-only mount or without write permission. SQLite reads a WAL
    database read-only only if it may create the ``-shm`` file, or finds it; failing that, a database with no
    ``-wal`` file (closed cleanly: every change is in the file) is opened as immutable."""
    uri = f"file:{urllib.parse.quote(str(Path(path).absolute()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. The switch needs an exclusive lock and SQLite may refuse it at once (no busy wait) while
    another process opens the new file, so retry until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the block in one transaction that holds the write lock from its start (``BEGIN IMMEDIATE``): what it
    reads cannot change before it writes, and taking the lock waits for other writers (busy timeout). Inside an
    open transaction, the block becomes a savepoint of it. (sqlite-utils ≥ 4 writes join an open transaction; 3.x
    would commit it early.)"""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


def _schema_version(db: sqlite_utils.Database) -> int:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_meta'").fetchone():
        return 0
    row = db.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise WorkspaceError(f"workspace schema version {version} is newer than this autogets ({SCHEMA_VERSION})")
    return version


def migrate(db: sqlite_utils.Database) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; returns the version it had. The pending migrations run in one write
    transaction, and the version is read again once the lock is held: of several processes migrating a new
    database at once, one applies the migrations and the others find them done."""
    version = _schema_version(db)
    if version == SCHEMA_VERSION:
        return version
    with write_transaction(db):
        db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
        version = _schema_version(db)
        for target in range(version, SCHEMA_VERSION):
            MIGRATIONS[target](db)
            db.execute("INSERT OR REPLACE INTO _meta (key, value) VALUES ('schema_version', ?)", [str(target + 1)])
    return version


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.urandom(2).hex()}"


@contextlib.contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Build a folder under a unique temporary name and rename it to ``final`` only if the block succeeds.

    An existing ``final`` is replaced: it is first renamed aside (to a unique name) and deleted after the new folder is
    in place, so several processes writing the same folder at once all succeed and the last one wins, whole."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _move_into_place(tmp, final)


def _move_into_place(tmp: Path, final: Path) -> None:
    while True:
        try:
            os.rename(tmp, final)  # replaces nothing but an empty folder
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        aside = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            os.rename(final, aside)
        except FileNotFoundError:  # another writer moved it aside first: try again
            continue
        shutil.rmtree(aside, ignore_errors=True)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=2, default=json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file: name it (full disk)
            exc.filename = str(path)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays and paths."""
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
