"""Who is working on what, across the processes that share a workspace (CLI runs, chat sessions, bot processes).

**Locks held by a live process.** A process that executes a run's steps holds an exclusive ``flock`` on
``<workspace>/locks/run-<run id>.lock``; the agent holds one per conversation thread too
(``thread-<thread id>.lock``) while it reads and resumes that thread. The lock file names its holder (pid, host,
since) for messages. The kernel drops a ``flock`` when its process dies, so a killed process (kill -9, OOM, a lost
container) leaves nothing stale behind: there is no lease to expire and no pid to guess about. The files stay (a few
bytes each); deleting a lock file could let two processes lock two different files of one name.

**One run per data set at a time** (a data set is its identity, name and content: :mod:`autogets.identity`; two
files named ``tickets.csv`` with different texts are two data sets). :func:`claim` runs under the workspace's write
lock (``BEGIN IMMEDIATE``): it counts the other unfinished ``improve`` runs of the data set that some process is
working on right now and, at the limit (default 1), refuses with :class:`~autogets.errors.RunConflict` naming the
run, its holder and since when; otherwise it takes the run's lock before the transaction ends, so a second process
deciding at the same moment sees it. ``create_run`` claims a new run; the agent claims an existing one before a
review decision or a resume lets it compute again. A run waiting for a person (a review page) or left behind by a
killed process holds no claim: it continues only once the data set is free.

Locks need a file system with working ``flock`` (local disks, Docker volumes; NFS v4 emulates it with POSIX locks,
which is also what SQLite relies on there).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from autogets.errors import RunConflict
from autogets.identity import DatasetId, as_identity, of_row
from autogets.workspace import Workspace, now_iso, write_transaction

UNFINISHED = ("created", "running")
"""Run statuses that may still compute (``done``, ``no_gain``, ``failed`` and ``cancelled`` never do)."""

_POLL = 0.05


@dataclass(frozen=True)
class Holder:
    """Who holds a lock (as its file says; ``pid`` 0 if the file could not be read at that moment)."""

    pid: int
    host: str
    since: str

    def describe(self) -> str:
        if not self.pid:
            return "another process"
        here = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"process {self.pid}{here}, since {self.since}"


class FileLock:
    """An exclusive ``flock`` on ``path``, taken with :meth:`acquire` (optionally waiting) and :meth:`release`.

    One object per holder; it is not re-entrant. A lock taken through one object conflicts with every other open of
    the file, in this process too."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float = 0.0) -> bool:
        """Take the lock, trying for up to ``wait`` seconds; False if another holder kept it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(_POLL)
        try:
            info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        except OSError:  # the lock is what matters; the note only improves messages
            pass
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def holder(self) -> Holder | None:
        """The holder if the file is locked (by anyone, this object included), else None."""
        if self._fd is not None:
            return _read_holder(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(self.path)
        finally:
            os.close(fd)
        return None


def _read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_bytes() or b"{}")
        return Holder(pid=int(data.get("pid", 0)), host=str(data.get("host", "")), since=str(data.get("since", "")))
    except (OSError, ValueError, TypeError):
        return Holder(pid=0, host="", since="")


# --- run locks: held by this process while it computes a run -------------------------------------------------------

_held: dict[str, FileLock] = {}
_held_guard = threading.Lock()


def lock_path(ws: Workspace, kind: str, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return ws.root / "locks" / f"{kind}-{safe}.lock"


def _key(path: Path) -> str:
    return str(path.resolve())


def hold_run(ws: Workspace, run_id: str) -> bool:
    """Take run ``run_id``'s lock for this process (True if it was taken now, False if this process held it);
    raises :class:`RunConflict` if another process holds it."""
    path = lock_path(ws, "run", run_id)
    with _held_guard:
        if _key(path) in _held:
            return False
        lock = FileLock(path)
        if not lock.acquire():
            holder = lock.holder() or Holder(0, "", "")
            raise RunConflict(f"run {run_id} is being worked on by {holder.describe()}; try again when it stops")
        _held[_key(path)] = lock
        return True


def release_run(ws: Workspace, run_id: str) -> None:
    """Drop this process's lock of run ``run_id`` (nothing if it holds none)."""
    with _held_guard:
        lock = _held.pop(_key(lock_path(ws, "run", run_id)), None)
    if lock is not None:
        lock.release()


def run_holder(ws: Workspace, run_id: str) -> Holder | None:
    """Who is working on run ``run_id`` right now (this process included), or None."""
    path = lock_path(ws, "run", run_id)
    with _held_guard:
        mine = _held.get(_key(path))
    if mine is not None:  # never open a second descriptor on our own lock (POSIX-emulated flock would drop it)
        return mine.holder()
    return FileLock(path).holder()


def busy_runs(ws: Workspace, dataset: DatasetId | str, *, exclude: str = "") -> list[tuple[str, Holder]]:
    """Other unfinished improve runs of ``dataset`` (its identity: another content of the same name is another data
    set) that a process is working on now, with their holders."""
    marks = ",".join("?" * len(UNFINISHED))
    where, args = as_identity(dataset).where()
    rows = ws.db().execute(f"SELECT id FROM runs WHERE kind = 'improve' AND {where} AND id != ? AND status IN "
                           f"({marks}) ORDER BY created_at", [*args, exclude, *UNFINISHED]).fetchall()
    return [(run_id, holder) for (run_id,) in rows if (holder := run_holder(ws, run_id)) is not None]


@contextlib.contextmanager
def claim(ws: Workspace, dataset: DatasetId | str, run_id: str, *, limit: int = 1
          ) -> Iterator[sqlite_utils.Database]:
    """Claim ``dataset`` for run ``run_id`` and take the run's lock, in one write transaction that the block joins
    (``create_run`` inserts the run's row in it). Refuses with :class:`RunConflict` when ``limit`` other runs of the
    data set are being worked on. If the block fails, a lock taken here is dropped again."""
    db, taken = ws.db(), False
    try:
        with write_transaction(db):
            busy = busy_runs(ws, dataset, exclude=run_id)
            if len(busy) >= max(1, limit):
                other, holder = busy[0]
                more = f" and {len(busy) - 1} other run(s)" if len(busy) > 1 else ""
                raise RunConflict(f"{as_identity(dataset).name} is being improved by run {other}{more} "
                                  f"({holder.describe()}); try again when it finishes")
            taken = hold_run(ws, run_id)
            yield db
    except BaseException:
        if taken:
            release_run(ws, run_id)
        raise


def claim_existing(ws: Workspace, run_id: str, *, limit: int = 1) -> bool:
    """Before an existing run computes again (a review decision, a resume): :func:`claim` its data set. Returns
    whether the lock was taken now (the caller releases it when the run stops computing); nothing to claim for a
    finished or unknown run (False)."""
    rows = list(ws.db().query("SELECT dataset, dataset_fp, status FROM runs WHERE id = ?", [run_id]))
    if not rows or rows[0]["status"] not in UNFINISHED:
        return False
    with _held_guard:
        if _key(lock_path(ws, "run", run_id)) in _held:
            return False
    with claim(ws, of_row(rows[0]), run_id, limit=limit):
        pass
    return True
