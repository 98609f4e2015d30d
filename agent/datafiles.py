"""Which data files a chat user may make the agent read: the one rule (:func:`data_file`).

A request typed in Slack or ``autogets chat`` may name a data file (``improve spam on tickets.csv``). The agent
reads it only from the folders an operator listed in ``AUTOGETS_DATA_DIRS`` (separated by :data:`os.pathsep`;
unset or empty: none, so only the bundled data sets can be named), never from inside the workspace (its databases,
reports and model files; in the Docker image the working directory *is* the workspace), even when a listed folder
holds it. Symlinks and ``..`` are resolved before the check, so a link in a data folder cannot point out of it.

Every path that opens a data file on a chat user's behalf asks :func:`data_file`: the request parser
(:mod:`agent.requests.catalog`), the ``start`` node and ``diagnose``. The CLI (``autogets improve --data FILE``,
typed by an operator) does not: operators are trusted with the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from autogets.data import BUNDLED
from autogets.errors import DataError

DATA_DIRS_VAR = "AUTOGETS_DATA_DIRS"
DATA_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")


class DataFileRefused(DataError):
    """A chat user named a data file the agent may not read; the message names it as typed (no server paths)."""


def data_dirs_from_env(env: Mapping[str, str]) -> tuple[Path, ...]:
    """The folders of ``AUTOGETS_DATA_DIRS`` (``os.pathsep``-separated; blanks skipped), as written."""
    return tuple(Path(p.strip()).expanduser() for p in env.get(DATA_DIRS_VAR, "").split(os.pathsep) if p.strip())


@dataclass(frozen=True)
class DataFolders:
    """Where chat users' data files may come from: ``folders`` (in order), never inside ``workspace``."""

    folders: tuple[Path, ...] = ()
    workspace: Path | None = None

    @classmethod
    def of(cls, folders: Iterable[str | Path], workspace: str | Path | None) -> DataFolders:
        return cls(tuple(Path(f).expanduser().resolve() for f in folders),
                   Path(workspace).expanduser().resolve() if workspace is not None else None)


def data_file(token: str | Path, allowed: DataFolders) -> Path:
    """The data file ``token`` names (absolute, or relative to a listed folder, the first that holds it), resolved,
    if a chat user may have it read: inside a listed folder, not inside the workspace, a data suffix, a file.
    Raises :class:`DataFileRefused` saying why, naming ``token`` as given."""
    shown = (Path(token).name if Path(token).is_absolute() else str(token))[:80]  # no server paths in chat
    if not allowed.folders:
        raise DataFileRefused(f"{shown}: data files are not enabled for chat requests (an operator lists their "
                              f"folders in {DATA_DIRS_VAR}); the bundled data sets: {', '.join(sorted(BUNDLED))}")
    try:
        given = Path(token).expanduser()
        candidates = [given.resolve()] if given.is_absolute() else [(f / given).resolve() for f in allowed.folders]
    except (OSError, RuntimeError, ValueError):
        raise DataFileRefused(f"{shown} is not a usable file path") from None
    ws = allowed.workspace
    in_workspace = [p for p in candidates if ws is not None and p.is_relative_to(ws)]
    inside = [p for p in candidates if p not in in_workspace and any(p.is_relative_to(f) for f in allowed.folders)]
    found = [p for p in inside if p.is_file()]
    if not found and any(p.exists() for p in in_workspace):
        raise DataFileRefused(f"{shown} is in the workspace; data files are never read from it")
    if not inside:
        raise DataFileRefused(f"{shown} is outside the data folders; data files must be in one of them "
                              f"({DATA_DIRS_VAR})")
    if not (found or inside)[0].name.casefold().endswith(DATA_SUFFIXES):
        raise DataFileRefused(f"{shown} is not a data file; use one of {', '.join(DATA_SUFFIXES)}")
    if not found:
        raise DataFileRefused(f"There is no data file {shown} in the data folders")
    return found[0]
