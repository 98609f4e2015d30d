"""One bot process per workspace.

A bot process owns its workspace's ``bot.db``: at start-up it marks the runs a previous process left ``running`` as
interrupted and asks the requests left ``queued`` again (:mod:`bot.restart`). A second process doing that beside a
live one would mark the live one's runs interrupted (their data-set slots never freed) and start its queue twice.
So ``autogets bot`` holds ``<workspace>/locks/bot-workspace.lock`` (an exclusive ``flock``,
:class:`autogets.leases.FileLock`) for as long as it serves, taken before it reads anything or talks to Slack; a
second process finds it held and stops with one line naming the holder (exit status 2). The kernel drops the lock
when its holder dies, so a killed bot leaves nothing to clean up.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from autogets.errors import AutogetsError
from autogets.leases import FileLock, Holder, lock_path
from autogets.workspace import Workspace

log = logging.getLogger("bot.lease")


class WorkspaceServed(AutogetsError):
    """Another bot process serves this workspace (the CLI prints it as one line and exits with status 2)."""


def bot_lock_path(workspace: Path) -> Path:
    return lock_path(Workspace(workspace), "bot", "workspace")


@contextlib.contextmanager
def serving(workspace: Path) -> Iterator[FileLock]:
    """Hold the workspace's bot lock while the block runs; :class:`WorkspaceServed` if another process holds it."""
    lock = FileLock(bot_lock_path(workspace))
    if not lock.acquire():
        holder = lock.holder() or Holder(0, "", "")
        raise WorkspaceServed(f"another autogets bot serves workspace {workspace} ({holder.describe()}); "
                              "one bot per workspace: stop that one first, or give this one another workspace")
    log.info("workspace lease taken", extra={"lock": str(lock.path)})
    try:
        yield lock
    finally:
        lock.release()
