"""A crash in the middle of a step, for the agent's resume tests: :class:`Killed` stands for the process dying."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from agent.api import ListNotifier


class Killed(BaseException):
    """Stands for the process dying at that point (not an ``Exception``: nothing in the agent catches it)."""


@contextlib.contextmanager
def killed_at(notifier: ListNotifier, kind: str) -> Iterator[None]:
    """While the block runs, the process "dies" when ``notifier`` is told ``kind`` (after the step's work, before
    its checkpoint); the notifier is itself again afterwards."""
    real = notifier.notify

    def notify(event: str, payload: dict) -> None:
        if event == kind:
            raise Killed
        real(event, payload)

    notifier.notify = notify
    try:
        yield
    finally:
        notifier.notify = real
