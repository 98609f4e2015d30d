"""The one progress message of a run, updated in place with ``chat.update`` — never on the run's thread.

The run's ``on_event`` (:meth:`ProgressMessage.update`) only stores the newest state in the message's slot and
returns: a sender thread of the message (started when there is something to send, gone when the slot is empty)
sends the newest state, dropping the ones it superseded, at most once per ``interval`` seconds. A slow or
rate-limited ``chat.update`` (the client waits out Slack's ``Retry-After``) therefore delays only the progress
message, never the run (issue 22 item 5). :meth:`ProgressMessage.flush` sends what is stored now and waits for it;
:meth:`ProgressMessage.finish` sends the final state the same way, and nothing after it — so a message the bot posts
next in the thread (review page, report) comes after the last progress update.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks

log = logging.getLogger("bot.progress")

FLUSH_WAIT = 120.0
"""Seconds :meth:`ProgressMessage.flush` waits at most for the sender (a send is bounded by the client's timeout
and its rate-limit retries; this only guards against a sender that never returns)."""


class ProgressMessage:
    def __init__(self, client: WebClient, channel: str, ts: str, *, request: str, user: str,
                 interval: float = 1.5):
        self.client, self.channel, self.ts = client, channel, ts
        self.request, self.user = request, user
        self.interval = interval
        self._cond = threading.Condition()
        self._last_sent = time.monotonic()   # the message was just posted
        self._slot: dict[str, Any] | None = None   # the newest state not yet sent (progress_message kwargs)
        self._now = False                    # send the slot without waiting for the interval (flush, finish)
        self._sender_on = False              # a sender thread is running (or starting)
        self._in_flight = False              # the sender is calling chat.update
        self._finished = False

    def update(self, event: dict[str, Any]) -> None:
        """An agent progress event (called on the run's thread): stored, never sent here."""
        with self._cond:
            if self._finished:
                return
            self._slot = {"event": event}
            self._wake()

    def flush(self, timeout: float = FLUSH_WAIT) -> bool:
        """Send the stored state now, and wait until nothing is stored or being sent (False on timeout)."""
        with self._cond:
            if self._slot is not None:
                self._now = True
                self._wake()
            return self._cond.wait_for(self._idle, timeout)

    def finish(self, outcome: str, timeout: float = FLUSH_WAIT) -> bool:
        """The final state (the turn's status): always sent, nothing after it; returns once it was sent."""
        with self._cond:
            if not self._finished:
                self._finished = True
                self._slot = {"outcome": outcome}
                self._now = True
                self._wake()
        if not self.flush(timeout):
            log.warning("progress not sent in time", extra={"channel": self.channel, "ts": self.ts})
            return False
        return True

    # -- the sender ----------------------------------------------------------------------------------------------

    def _idle(self) -> bool:
        return self._slot is None and not self._in_flight

    def _wake(self) -> None:
        """With the lock held: tell the running sender, or start one."""
        if self._sender_on:
            self._cond.notify_all()
            return
        self._sender_on = True
        threading.Thread(target=self._send_loop, name=f"progress-{self.ts}", daemon=True).start()

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._slot is None:
                        self._sender_on = False
                        self._cond.notify_all()
                        return
                    wait = 0.0 if self._now else self.interval - (time.monotonic() - self._last_sent)
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                state, self._slot, self._now = self._slot, None, False
                self._in_flight = True
            try:
                self._send(blocks.progress_message(request=self.request, user=self.user, **state))
            finally:
                with self._cond:
                    self._in_flight = False
                    self._last_sent = time.monotonic()
                    self._cond.notify_all()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, **message)
        except (SlackApiError, OSError) as exc:  # progress is best effort; the result is posted separately
            log.warning("progress update failed", extra={"channel": self.channel, "ts": self.ts,
                                                         "slack_error": slack_error(exc)})
        except Exception:  # never let the sender die with the slot's waiters still waiting
            log.exception("progress update failed", extra={"channel": self.channel, "ts": self.ts})


def slack_error(exc: Exception) -> str:
    """The error code of a Web API failure (``not_in_channel``), or the exception's class name."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "slack_api_error")
    return type(exc).__name__
