"""Faults of the machine rather than of the input: a full disk, a read-only workspace, a damaged database.

:func:`describe` turns such an exception (``OSError``, ``sqlite3.Error``) into the one line the CLI prints, naming the
file and what to do, or returns None for anything else (a bug: its traceback is worth having). It knows the workspace
folders this process opened (:func:`remember`), to name the workspace of an error that names no file (SQLite's) and
to find which of its databases is damaged (SQLite does not say which file a "malformed" error is about).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
DENIED = {errno.EACCES, errno.EPERM}
DATABASES = ("autogets.db", "checkpoints.db", "cache/embeddings.sqlite")
"""The SQLite files of a workspace (data, the agent's checkpoints, the embedding cache)."""

_ROOTS: list[Path] = []


def remember(root: str | Path) -> None:
    """Note a workspace folder this process uses (the most recent last)."""
    path = Path(root).absolute()
    with contextlib.suppress(ValueError):
        _ROOTS.remove(path)
    _ROOTS.append(path)
    del _ROOTS[:-16]


def _root_of(path: str | Path | None) -> Path | None:
    """The known workspace holding ``path``, or (no path) the one used last."""
    if path is None:
        return _ROOTS[-1] if _ROOTS else None
    target = Path(path).absolute()
    return next((r for r in reversed(_ROOTS) if target.is_relative_to(r)), None)


def disk_full(path: str | Path | None = None) -> str:
    """The line for a full disk (or quota) while writing ``path`` (None: somewhere in the workspace used last)."""
    if path is not None:
        path = Path(path)
        where = f"writing in {path.parent}" if path.name.startswith(".") else f"writing {path}"  # a temporary file
    else:
        root = _root_of(None)
        where = f"in workspace {root}" if root is not None else "while writing"
    return f"no space left on device {where}: free space and run it again (what was stored is kept and reused)"


def _nearly_full(path: Path | None, below: int = 1 << 20) -> bool:
    """Whether the file system of ``path`` has less than ``below`` bytes free (SQLite reports some writes on a full
    disk as an I/O error: growing the shared-memory file, for one)."""
    for folder in ([path, *path.parents] if path is not None else []):
        with contextlib.suppress(OSError):
            stat = os.statvfs(folder)
            return stat.f_bavail * stat.f_frsize < below
    return False


def read_only(root: str | Path, path: str | Path | None = None) -> str:
    detail = f" (cannot write {path})" if path is not None and Path(path) != Path(root) else ""
    return (f"workspace {root} is read-only{detail}: this command writes to it (read-only commands work: models "
            f"list / show / export, runs, predict, samples, kb show, chat --list)")


def denied(root: str | Path, path: str | Path) -> str:
    return (f"permission denied on {path} (workspace {root}): run autogets as the user who owns the workspace, or "
            f"give this user access to its files")


def damaged(path: str | Path, exc: BaseException) -> str:
    return (f"{path}: not a usable SQLite database ({exc}); restore it from a backup, or recover what is readable "
            f"with `sqlite3 {path} .recover | sqlite3 {path}.recovered` and put that file in its place (with "
            f"autogets stopped)")


def busy(path: str | Path | None = None) -> str:
    from autogets.workspace import BUSY_TIMEOUT_MS

    where = path if path is not None else "the workspace database"
    return (f"{where} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s; try again when it has "
            f"finished (`autogets runs list` shows runs in progress)")


def _sqlite_kind(exc: sqlite3.Error) -> str | None:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "database or disk is full" in text:
        return "full"
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return "read-only"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return "damaged"
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return "io"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return "busy"
    return None


def database_problem(path: Path, exc: sqlite3.Error) -> str:
    """The line for an error opening the database at ``path``."""
    kind = _sqlite_kind(exc)
    if kind == "full" or (kind == "io" and _nearly_full(path.parent)):
        return disk_full(path)
    if kind == "read-only":
        return read_only(path.parent, path)
    if kind == "damaged":
        return damaged(path, exc)
    if kind == "busy":
        return busy(path)
    return f"{path}: not a usable SQLite database ({exc})"


def _healthy(path: Path) -> bool:
    from autogets.workspace import connect_read_only

    try:
        with contextlib.closing(connect_read_only(path)) as conn:
            return conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    except sqlite3.Error as exc:
        return _sqlite_kind(exc) != "damaged"  # cannot tell (e.g. locked): not known to be bad


def _damaged_database() -> Path | None:
    """The first database of the workspaces this process used that fails SQLite's ``quick_check``."""
    for root in reversed(_ROOTS):
        for name in DATABASES:
            path = root / name
            if path.is_file() and path.stat().st_size > 0 and not _healthy(path):
                return path
    return None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk (or quota): a cause that passes once space is freed."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    if isinstance(exc, sqlite3.Error):
        kind = _sqlite_kind(exc)
        return kind == "full" or (kind == "io" and _nearly_full(_root_of(None)))
    return False


def describe(exc: BaseException) -> str | None:
    """The one line for a full disk, a read-only workspace or a damaged database, else None."""
    if isinstance(exc, OSError):
        path = exc.filename2 if exc.filename2 is not None else exc.filename
        if exc.errno in DISK_FULL:
            return disk_full(path)
        root = _root_of(path) if path is not None else None
        if root is not None and exc.errno == errno.EROFS:
            return read_only(root, path)
        if root is not None and exc.errno in DENIED:  # reading or writing: a file of another user, say
            return denied(root, path)
        return None
    if isinstance(exc, sqlite3.Error):
        kind = _sqlite_kind(exc)
        root = _root_of(None)
        if kind == "full" or (kind == "io" and _nearly_full(root)):
            return disk_full()
        if kind == "read-only" and root is not None:
            return read_only(root)
        if kind == "damaged":
            path = _damaged_database() or (root / "autogets.db" if root is not None else "the workspace database")
            return damaged(path, exc)
        if kind == "busy":
            return busy(root / "autogets.db" if root is not None else None)
    return None
