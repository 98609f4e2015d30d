"""Requests the bot has handled, remembered in ``<workspace>/bot.db`` so a second delivery is acknowledged and
dropped, also after a restart (issue 22 item 6).

Slack delivers an event again when an ack came late or not at all (``X-Slack-Retry-Num``; after up to 5 minutes),
possibly to the next bot process; a captured signed request can be replayed for as long as its timestamp passes the
signature check (5 minutes). The listeners ack first, then ask :meth:`Deliveries.first` with the request's key:

* events: ``event:<event_id>`` (:func:`event_key`);
* slash commands: ``command:<trigger_id>`` (Slack makes one per invocation), or, without one,
  ``command-signature:<sha256 of the signature and timestamp headers>`` (:func:`command_key`).

A key is kept for :data:`TTL` seconds (an hour: well past Slack's last retry and the replay window), then pruned;
at most :data:`MAX_KEYS` are kept. A request with no key is handled (there is nothing to tell it apart by).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.threads import open_bot_db

TABLE = "seen_requests"
TTL = 3600.0          # seconds a handled request's key is kept
MAX_KEYS = 100_000    # and at most this many keys (the newest)
PRUNE_EVERY = 60.0    # seconds between two prunings


def event_key(body: Mapping[str, Any]) -> str | None:
    """An Events API delivery's key: its ``event_id`` (the same on every retry)."""
    event_id = body.get("event_id")
    return f"event:{event_id}" if event_id else None


def command_key(body: Mapping[str, Any], headers: Mapping[str, str | Sequence[str]]) -> str | None:
    """A slash command's key: its ``trigger_id``, else a hash of its signature and timestamp headers (a replay
    sends both unchanged), else None."""
    trigger = body.get("trigger_id")
    if trigger:
        return f"command:{trigger}"
    signature, timestamp = _header(headers, "x-slack-signature"), _header(headers, "x-slack-request-timestamp")
    if not signature:
        return None
    digest = hashlib.sha256(f"{signature}|{timestamp}".encode()).hexdigest()
    return f"command-signature:{digest}"


def _header(headers: Mapping[str, str | Sequence[str]], name: str) -> str:
    value = headers.get(name) or headers.get(name.title()) or ""
    return str(value if isinstance(value, str) else (value[0] if value else ""))


class Deliveries:
    """The keys of handled requests, in the table :data:`TABLE` of ``path`` (the bot's ``bot.db``). Safe to share
    between threads; a second process on the same file sees the same keys."""

    def __init__(self, path: Path, *, ttl: float = TTL, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.ttl, self.max_keys, self._clock = ttl, max_keys, clock
        self._lock = threading.Lock()
        self._db: sqlite_utils.Database | None = None
        self._pruned = -math.inf

    def first(self, key: str | None) -> bool:
        """True the first time ``key`` is seen (handle the request), False for a second delivery within the TTL.
        A key older than the TTL counts as new."""
        if not key:
            return True
        now = self._clock()
        with self._lock:
            conn = self._open().conn
            if now - self._pruned >= min(PRUNE_EVERY, self.ttl):
                self._prune(conn, now)
            with conn:
                cursor = conn.execute(f"INSERT INTO {TABLE} (key, at) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                                      f"SET at = excluded.at WHERE {TABLE}.at < ?", (key, now, now - self.ttl))
            return cursor.rowcount == 1

    def count(self) -> int:
        with self._lock:
            return int(self._open().conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.conn.close()
                self._db = None

    def _prune(self, conn: sqlite3.Connection, now: float) -> None:
        with conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE at < ?", (now - self.ttl,))
            conn.execute(f"DELETE FROM {TABLE} WHERE key IN (SELECT key FROM {TABLE} ORDER BY at DESC "
                         "LIMIT -1 OFFSET ?)", (self.max_keys,))
        self._pruned = now

    def _open(self) -> sqlite_utils.Database:
        if self._db is None:
            db = open_bot_db(self.path)
            with db.conn:
                db[TABLE].create({"key": str, "at": float}, pk="key", if_not_exists=True)
                db[TABLE].create_index(["at"], if_not_exists=True)
            self._db = db
        return self._db
