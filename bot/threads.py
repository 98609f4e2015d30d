"""The Slack thread ↔ agent conversation mapping, in ``<workspace>/bot.db`` so it survives restarts.

A Slack thread (team, channel, thread ts) is one agent conversation, keyed ``slack:{team}:{channel}:{thread_ts}``;
the agent's own thread id is ``Agent.thread_for(conversation)``. Beside the key, a row remembers what the bot
needs to answer a click after a restart: who asked, the data set, the run, the one progress message, the review
message awaiting a decision and the report message with its Promote button. The run's state lives in the agent's
checkpoints; this table only holds Slack-side facts. The table is created idempotently with sqlite-utils.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import sqlite_utils

TABLE = "slack_threads"
ACTIVE_STATES = ("running", "review")


@dataclass(frozen=True)
class SlackThread:
    """Where a conversation lives in Slack: its key is what the agent knows it by."""

    team: str
    channel: str
    thread_ts: str

    @property
    def conversation(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"


@dataclass(frozen=True, kw_only=True)
class ThreadRow:
    conversation: str
    thread_id: str
    team: str
    channel: str
    thread_ts: str
    requester: str | None = None
    dataset: str | None = None
    run_id: str | None = None
    state: str = "idle"               # idle | queued | running | review | finished | interrupted
    progress_ts: str | None = None    # the one progress message of the run
    request: str | None = None        # the text that started the run (for the progress message)
    review_ts: str | None = None      # the review message waiting for a decision (None: nothing to decide)
    review_page: int | None = None
    review_token: str | None = None   # the agent's token of that page (a promotion request has one too)
    report_ts: str | None = None      # the report message whose Promote/Discard buttons are still live
    model_id: str | None = None
    queued_at: str | None = None      # when it joined its data set's queue (set by the store; None unless queued)
    updated_at: str = ""

    @property
    def where(self) -> SlackThread:
        return SlackThread(self.team, self.channel, self.thread_ts)


def _precise_now() -> str:
    """UTC to the microsecond, ordered like ``updated_at`` (two requests queued in one second keep their order)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"


_COLUMNS: dict[str, Any] = {f.name: (int if f.name == "review_page" else str) for f in fields(ThreadRow)}


def open_bot_db(path: Path) -> sqlite_utils.Database:
    """A connection to the bot's own ``bot.db`` (WAL, waits for other writers; shared by the bot's threads under
    its owner's lock): the thread table here, the handled requests in :mod:`bot.deliveries`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return sqlite_utils.Database(conn)


class ThreadStore:
    """Rows of :class:`ThreadRow`, one per Slack thread the bot has talked in. Safe to share between threads."""

    def __init__(self, workspace: Path):
        self.path = Path(workspace) / "bot.db"
        self._db: sqlite_utils.Database | None = None
        self._lock = threading.RLock()

    def _table(self) -> sqlite_utils.db.Table:
        if self._db is None:
            db = open_bot_db(self.path)
            conn = db.conn
            with conn:
                db[TABLE].create(_COLUMNS, pk="conversation", if_not_exists=True)
                missing = {name: kind for name, kind in _COLUMNS.items() if name not in db[TABLE].columns_dict}
                for name, kind in missing.items():   # a bot.db from an older version
                    db[TABLE].add_column(name, kind)
                db[TABLE].create_index(["thread_id"], if_not_exists=True)
                db[TABLE].create_index(["dataset", "state"], if_not_exists=True)
            self._db = db
        return self._db.table(TABLE)

    def get(self, conversation: str) -> ThreadRow | None:
        return self._one("conversation = ?", conversation)

    def by_thread_id(self, thread_id: str) -> ThreadRow | None:
        return self._one("thread_id = ?", thread_id)

    def save(self, row: ThreadRow) -> ThreadRow:
        """Store ``row``. The store keeps the queue order: a row entering ``queued`` gets ``queued_at`` now, keeps
        it while it stays queued (saved again, asked again) and loses it when it leaves the queue."""
        row = replace(row, updated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      queued_at=(row.queued_at or _precise_now()) if row.state == "queued" else None)
        with self._lock:
            table = self._table()
            with table.db.conn:
                table.upsert(asdict(row), pk="conversation", alter=True)
        return row

    def update(self, conversation: str, **changes: Any) -> ThreadRow:
        with self._lock:
            row = self.get(conversation)
            if row is None:
                raise KeyError(conversation)
            return self.save(replace(row, **changes))

    def ensure(self, new: ThreadRow, **changes: Any) -> ThreadRow:
        """The row of ``new.conversation`` (``new`` if there is none yet) with ``changes`` applied, atomically."""
        with self._lock:
            return self.save(replace(self.get(new.conversation) or new, **changes))

    def active(self, dataset: str | None = None) -> list[ThreadRow]:
        """Runs holding a data set: running, or waiting for a review."""
        where = "state IN (?, ?)" + (" AND dataset = ?" if dataset else "")
        return self._many(where, *ACTIVE_STATES, *([dataset] if dataset else []))

    def queued(self) -> list[ThreadRow]:
        """Requests waiting for their data set, in the order they were queued (rows queued by an older version,
        without ``queued_at``, by when they were last saved)."""
        with self._lock:
            rows = self._table().rows_where("state = ?", ["queued"],
                                            order_by="COALESCE(queued_at, updated_at), rowid")
            return [ThreadRow(**r) for r in rows]

    def mark_interrupted(self) -> list[ThreadRow]:
        """At start-up: runs left ``running`` by a previous process can no longer report here."""
        rows = self._many("state = ?", "running")
        for row in rows:
            self.save(replace(row, state="interrupted"))
        return rows

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.conn.close()
                self._db = None

    def _one(self, where: str, *args: Any) -> ThreadRow | None:
        rows = self._many(where, *args)
        return rows[0] if rows else None

    def _many(self, where: str, *args: Any) -> list[ThreadRow]:
        with self._lock:
            return [ThreadRow(**r) for r in self._table().rows_where(where, list(args), order_by="updated_at")]
