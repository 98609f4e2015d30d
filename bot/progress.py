"""The one progress message of a run, updated in place with ``chat.update``.

At most one update per ``interval`` seconds per message: an event arriving sooner is kept and sent by a trailing
timer (or by :meth:`ProgressMessage.finish`), so the last state is always what the message shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks

log = logging.getLogger("bot.progress")


class ProgressMessage:
    def __init__(self, client: WebClient, channel: str, ts: str, *, request: str, user: str,
                 interval: float = 1.5, clock: Callable[[], float] = time.monotonic,
                 timer: Callable[[float, Callable[[], None]], Any] | None = None):
        self.client, self.channel, self.ts = client, channel, ts
        self.request, self.user = request, user
        self.interval = interval
        self._clock = clock
        self._timer_factory = timer or _daemon_timer
        self._lock = threading.Lock()
        self._last_sent = clock()        # the message was just posted
        self._pending: dict[str, Any] | None = None
        self._timer: Any = None
        self._finished = False

    def update(self, event: dict[str, Any]) -> None:
        """An agent progress event (called from the job's thread)."""
        with self._lock:
            if self._finished:
                return
            wait = self.interval - (self._clock() - self._last_sent)
            if wait <= 0:
                self._pending = None
                self._send(blocks.progress_message(request=self.request, user=self.user, event=event))
                return
            self._pending = event
            if self._timer is None:
                self._timer = self._timer_factory(wait, self._flush)

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if self._finished or self._pending is None:
                return
            event, self._pending = self._pending, None
            self._send(blocks.progress_message(request=self.request, user=self.user, event=event))

    def finish(self, outcome: str) -> None:
        """The final state (the turn's status): always sent, and nothing after it."""
        with self._lock:
            self._finished = True
            if self._timer is not None and hasattr(self._timer, "cancel"):
                self._timer.cancel()
            self._timer = None
            self._pending = None
            self._send(blocks.progress_message(request=self.request, user=self.user, outcome=outcome))

    def _send(self, message: dict[str, Any]) -> None:
        self._last_sent = self._clock()
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, **message)
        except (SlackApiError, OSError) as exc:  # progress is best effort; the result is posted separately
            log.warning("progress update failed", extra={"channel": self.channel, "ts": self.ts,
                                                         "slack_error": slack_error(exc)})


def slack_error(exc: Exception) -> str:
    """The error code of a Web API failure (``not_in_channel``), or the exception's class name."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "slack_api_error")
    return type(exc).__name__


def _daemon_timer(delay: float, fn: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()
    return timer
