"""The agent as front-ends use it: ask, review, resume; one durable thread per conversation.

The graph is checkpointed by ``SqliteSaver`` in ``<workspace>/checkpoints.db`` (apart from the data database), so
a process that dies while a run waits for review, or during search, can be replaced by a new one that continues
the same thread (:meth:`Agent.resume`). The thread id is a uuid5 of the front-end's conversation key. Permissions
(review, promote, roll back: the requester or an approver) are checked here, before the graph is resumed.

One caller at a time per thread, across processes: a thread is read and resumed under a thread lock (a lock within
this process, then a ``flock`` on ``<workspace>/locks/thread-<id>.lock`` shared with other processes, e.g. a second
bot). A caller that cannot get it within :attr:`Agent.lock_wait` seconds gets a ``running`` turn and nothing is
applied, so two approvals of one page from two processes take effect once. A run that computes again (a review
decision, a resume) first claims its data set (:mod:`autogets.leases`): while another run of that data set is being
worked on, the decision is not applied and the turn says which run holds it. A step that stops for a cause that may
pass (:class:`~autogets.errors.Resumable`, e.g. the LLM server went away during generation) leaves the thread
resumable: "resume" in the thread, or :meth:`Agent.resume`, runs that step again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent import answers
from agent.api import ReviewDecision, ReviewPage, ReviewSample, Turn
from agent.context import AgentContext
from agent.graph import build_graph
from agent.requests import Request, thread_intent, thread_reply
from agent.state import fresh
from autogets import faults, leases, steps
from autogets.errors import Resumable, RunConflict
from autogets.workspace import connect_read_only, now_iso

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("6f1c6d52-3d0c-4a55-9a55-0a7e6c1b2d10")
EventSink = Callable[[dict[str, Any]], None]


ENDED = ("done", "no_gain", "failed", "cancelled")
"""Run statuses after which nothing is left to cancel."""

RESUME_WORDS = ("resume", "continue", "retry")
"""Said in a thread whose run stopped between steps (a crash, a generator that went away): continue it."""


def _word(text: str) -> str:
    return " ".join(text.lower().replace("@autogets", "").split()).strip(" .!?")


def is_resume(text: str) -> bool:
    """Whether ``text`` asks to continue a stopped run (:data:`RESUME_WORDS`; the bot reads it with this too)."""
    return _word(text) in RESUME_WORDS


class Agent:
    """Parameters: the run configuration (``context``), with its notifier."""

    lock_wait = 5.0
    """Seconds to wait for a thread that another process is working on before answering ``running``."""

    cancel_patience = 1.0
    """Seconds a typed ``cancel`` waits for the thread before it is recorded for the run to apply between steps."""

    def __init__(self, context: AgentContext):
        self.ctx = context
        self.workspace = Path(context.workspace)
        self.ws = context.ws  # one Workspace for every call and node (nodes get it through the runtime context)
        self.workspace.mkdir(parents=True, exist_ok=True)
        faults.remember(self.workspace)
        from autogets.embeddings import store_for, use_store

        use_store(store_for(self.workspace))  # every text is embedded once per workspace
        self._conn = sqlite3.connect(self.workspace / "checkpoints.db", check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS agent_threads (thread_id TEXT PRIMARY KEY, conversation TEXT, "
                           "requester TEXT, run_id TEXT, status TEXT, command TEXT, updated_at TEXT)")
        self._conn.commit()
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.saver = SqliteSaver(self._conn)
        self.graph = build_graph(self.saver)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def close(self) -> None:
        self._conn.close()
        self.ws.close()

    @staticmethod
    def thread_for(conversation: str) -> str:
        return str(uuid.uuid5(NAMESPACE, conversation))

    # --- the front-end's calls ----------------------------------------------------------------------------------

    def ask(self, conversation: str, text: str, *, user: str, on_event: EventSink | None = None) -> Turn:
        """Handle a message: a command starts a run or gets an answer; inside a thread that waits for review,
        "cancel", "approve all" and "status" act on that run."""
        thread_id = self.thread_for(conversation)
        quick = thread_intent(text)
        quick = quick if quick in ("status", "cancel") else None
        if quick:  # never queued behind the thread's run: answered at once (a cancel of a run that waits at a
            # page waits up to a second for a call that holds the thread a moment, so it applies to the page now)
            waiting = self._waiting(thread_id) if quick == "cancel" else None
            patience = self.cancel_patience if waiting is not None and self.ctx.policy.allows(
                user, "review", waiting.get("requester")) else 0.0
            with self._exclusive(thread_id, patience=patience) as mine:
                if mine:
                    return self._ask_held(thread_id, conversation, text, user, on_event)
                return self._while_computing(thread_id, quick, user)
        with self._exclusive(thread_id) as mine:
            if not mine:
                return self._busy(thread_id)
            return self._ask_held(thread_id, conversation, text, user, on_event)

    def _ask_held(self, thread_id: str, conversation: str, text: str, user: str, on_event: EventSink | None
                  ) -> Turn:
        """:meth:`ask` with the thread held."""
        waiting = self._waiting(thread_id)
        if waiting is not None:
            reply = thread_reply(text)  # the grammar decides: "approve all", never a bare "approve"
            if isinstance(reply, Request) and reply.intent in ("cancel", "approve_all"):
                action = "cancel" if reply.intent == "cancel" else "approve_all"
                return self._decide(thread_id, waiting, ReviewDecision(action=action), user, on_event)
            if isinstance(reply, Request):  # status
                return self._turn(thread_id, note="A run in this thread waits for review.")
            said = f"{reply.message} Nothing was applied; or answer the page." if reply is not None else (
                "A run in this thread waits for review: answer the page, or say cancel or approve all.")
            return Turn(thread_id=thread_id, status="answer", run_id=waiting.get("run_id"), text=said)
        if is_resume(text) and self._stopped(thread_id):
            return self._continue(thread_id, user, on_event)
        if _word(text) == "status" and self._stopped(thread_id):
            return self._turn(thread_id)
        self._remember(thread_id, conversation=conversation, requester=user, command=text)
        return self._stream(thread_id, fresh(text, user, conversation), on_event)

    def review(self, thread_id: str, decision: ReviewDecision, *, user: str, on_event: EventSink | None = None
               ) -> Turn:
        """Resume the run waiting in ``thread_id`` with a person's decision (applied once; permission checked)."""
        with self._exclusive(thread_id) as mine:
            if not mine:
                return self._busy(thread_id)
            waiting = self._waiting(thread_id)
            if waiting is None:
                return Turn(thread_id=thread_id, status="answer", text="Nothing in this thread waits for a decision "
                                                                       "(already decided, or finished).")
            return self._decide(thread_id, waiting, decision, user, on_event)

    def resume(self, thread_id: str, *, on_event: EventSink | None = None) -> Turn:
        """Continue a thread from its last checkpoint (after a crash), or show what it waits for."""
        with self._exclusive(thread_id) as mine:
            if not mine:
                return self._busy(thread_id)
            snapshot = self.graph.get_state(self._config(thread_id))
            if not snapshot.values:
                return Turn(thread_id=thread_id, status="answer", text=f"No thread {thread_id}.")
            if _unfinished(snapshot):
                return self._continue(thread_id, None, on_event)
            return self._turn(thread_id)

    def pending_reviews(self) -> list[ReviewPage]:
        pages = []
        with self.saver.lock:
            ids = [r[0] for r in self._conn.execute("SELECT thread_id FROM agent_threads").fetchall()]
        for thread_id in ids:
            waiting = self._waiting(thread_id)
            if waiting is not None and waiting.get("kind") == "review":
                pages.append(_page(waiting))
        return pages

    def threads(self) -> list[dict[str, Any]]:
        with self.saver.lock:
            return _thread_rows(self._conn)

    # --- internals ----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self, thread_id: str, *, patience: float | None = None) -> Iterator[bool]:
        """Hold the thread: this process's lock, then the cross-process one. ``patience``: seconds to wait for
        each (None: as long as this process's holder takes, and :attr:`lock_wait` for another process's). Yields
        whether the thread is ours; False if another caller kept it."""
        with self._locks_guard:
            local = self._locks.setdefault(thread_id, threading.Lock())
        if not local.acquire(timeout=-1 if patience is None else patience):
            yield False
            return
        try:
            shared = leases.FileLock(leases.lock_path(self.ws, "thread", thread_id))
            if not shared.acquire(wait=self.lock_wait if patience is None else patience):
                log.warning("thread busy in another process", extra={"thread_id": thread_id})
                yield False
                return
            try:
                yield True
            finally:
                shared.release()
        finally:
            local.release()

    def _while_computing(self, thread_id: str, intent: str, user: str) -> Turn:
        """``status`` or ``cancel`` typed while the thread's run computes (this process or another): answered at
        once, never queued behind the run. Status comes from the stored run; cancel is recorded for the run, which
        stops before its next step (:func:`autogets.runs.request_cancel`)."""
        values = self.graph.get_state(self._config(thread_id)).values or {}
        run_id, requester = values.get("run_id"), values.get("user")
        if intent == "status":
            return Turn(thread_id=thread_id, status="running", run_id=run_id, requester=requester,
                        data={"applied": False},
                        text=f"Working on it. {answers.status_text(self.ws, run_id)}" if run_id else
                        "Working on the request in this thread.")
        if not run_id:
            return Turn(thread_id=thread_id, status="running", data={"applied": False},
                        text="Nothing to cancel yet: the request in this thread has not started a run.")
        if not self.ctx.policy.allows(user, "review", requester):
            return Turn(thread_id=thread_id, status="refused", run_id=run_id, data={"applied": False},
                        text=self.ctx.policy.refusal(user, "review", "this run", action="cancel",
                                                     thread_id=thread_id))
        if (status := steps.run_row(self.ws, run_id)["status"]) in ENDED:
            return Turn(thread_id=thread_id, status="answer", run_id=run_id, data={"applied": False},
                        text=f"Run {run_id} already ended ({status}); nothing to cancel.")
        steps.request_cancel(self.ws, run_id, actor=user)
        log.info("cancel requested", extra={"thread_id": thread_id, "run_id": run_id, "user": user})
        return Turn(thread_id=thread_id, status="running", run_id=run_id, requester=requester,
                    data={"applied": True},
                    text=f"Cancel requested by {user}: run {run_id} stops before its next step; nothing will be "
                         f"trained or registered (a run already in its last step still finishes).")

    def _busy(self, thread_id: str) -> Turn:
        holder = leases.FileLock(leases.lock_path(self.ws, "thread", thread_id)).holder()
        who = holder.describe() if holder else "another process"
        return Turn(thread_id=thread_id, status="running", data={"applied": False},
                    text=f"This thread is being worked on by {who}; nothing was applied. Try again when it finishes.")

    def _stopped(self, thread_id: str) -> bool:
        return _unfinished(self.graph.get_state(self._config(thread_id)))

    def _continue(self, thread_id: str, user: str | None, on_event: EventSink | None) -> Turn:
        """Resume a thread that stopped between nodes (a crash, a :class:`Resumable` step)."""
        values = self.graph.get_state(self._config(thread_id)).values or {}
        if user is not None and not self.ctx.policy.allows(user, "resume", values.get("user")):
            return Turn(thread_id=thread_id, status="refused", run_id=values.get("run_id"),
                        text=self.ctx.policy.refusal(user, "resume", "this run", action="resume",
                                                     thread_id=thread_id))
        return self._stream(thread_id, None, on_event, run_id=values.get("run_id"))

    def _claim(self, thread_id: str, run_id: str | None) -> Turn | None:
        """Before ``run_id`` computes again: claim its data set; a ``running`` turn if another run holds it."""
        if not run_id:
            return None
        try:
            leases.claim_existing(self.ws, run_id, limit=self.ctx.runs_per_dataset)
        except RunConflict as exc:
            log.warning("data set busy", extra={"thread_id": thread_id, "run_id": run_id, "reason": str(exc)})
            return Turn(thread_id=thread_id, status="running", run_id=run_id, data={"applied": False},
                        text=f"Not applied: {exc}.")
        return None

    def _config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": 200}

    def _waiting(self, thread_id: str) -> dict[str, Any] | None:
        snapshot = self.graph.get_state(self._config(thread_id))
        return snapshot.interrupts[0].value if snapshot.interrupts else None

    def _decide(self, thread_id: str, waiting: dict, decision: ReviewDecision, user: str,
                on_event: EventSink | None) -> Turn:
        if decision.token and decision.token != waiting.get("token"):
            return Turn(thread_id=thread_id, status="answer", run_id=waiting.get("run_id"),
                        text="That page was already decided; the current page is shown below.",
                        review=_page(waiting) if waiting.get("kind") == "review" else None)
        act = "approve promotion" if waiting.get("kind") == "promotion" else "review"
        if not self.ctx.policy.allows(user, act, waiting.get("requester")):  # the node checks again
            return Turn(thread_id=thread_id, status="refused", run_id=waiting.get("run_id"),
                        text=self.ctx.policy.refusal(user, act, waiting.get("model_id") or "this run",
                                                     action=decision.action, thread_id=thread_id))
        from langgraph.types import Command

        resume = {**decision.to_dict(), "user": user}
        if waiting.get("kind") == "review":  # the samples this decision is about: the page the person saw
            resume["keys"] = [sample["key"] for sample in waiting.get("samples", [])]
        if waiting.get("kind") == "promotion":
            resume["action"] = "approve" if decision.action in ("approve_all", "approve_page") else "reject"
        run_id = waiting.get("run_id") if waiting.get("kind") == "review" else None
        return self._stream(thread_id, Command(resume=resume), on_event,
                            run_id=run_id if decision.action != "cancel" else None)

    def _stream(self, thread_id: str, graph_input: Any, on_event: EventSink | None, *,
                run_id: str | None = None) -> Turn:
        """Run the graph on ``graph_input``; ``run_id``: an existing run that may compute again (claimed first).
        Whatever run the thread drives is released when the graph stops (at a review page, or at the end)."""
        if (refused := self._claim(thread_id, run_id)) is not None:
            return refused
        config, ws = self._config(thread_id), self.ws
        note = ""
        try:
            for mode, chunk in self.graph.stream(graph_input, config, context=self.ctx,
                                                 stream_mode=["custom", "updates"]):
                if mode == "custom" and on_event is not None:
                    on_event(chunk)
        except Resumable as exc:  # the step's checkpoint was not written: resuming runs it again
            log.warning("run stopped, resumable", extra={"thread_id": thread_id, "reason": str(exc)})
            note = (f"The run stopped: {exc}. Say resume in this thread (or run `autogets chat --resume "
                    f"{thread_id}`) to continue from that step.")
        finally:
            held = {run_id}
            with contextlib.suppress(Exception):  # never hide the graph's own error
                held.add((self.graph.get_state(config).values or {}).get("run_id"))
            for rid in held - {None}:
                leases.release_run(ws, rid)
        return self._turn(thread_id, note=note)

    def _turn(self, thread_id: str, note: str = "") -> Turn:
        snapshot = self.graph.get_state(self._config(thread_id))
        values = snapshot.values or {}
        run_id, requester = values.get("run_id"), values.get("user")
        waiting = snapshot.interrupts[0].value if snapshot.interrupts else None
        if waiting is not None:
            kind = waiting.get("kind")
            status = "review" if kind == "review" else "awaiting_promotion"
            text = note or (values.get("message") or waiting.get("description", ""))
            turn = Turn(thread_id=thread_id, status=status, text=text, run_id=run_id, requester=requester,
                        review=_page(waiting) if kind == "review" else None,
                        data={"model_id": waiting.get("model_id"), "token": waiting.get("token")})
        else:
            status = values.get("status", "answer")
            if _unfinished(snapshot):  # stopped between nodes (a crash): resumable
                where = f"before {snapshot.next[0]}" if snapshot.next else "between steps"
                status, text = "running", f"The run stopped {where}; resume the thread to continue."
            else:
                text = values.get("message", "")
            report = None
            if run_id and status in ("done", "no_gain"):
                report = steps.step_result(self.ws, run_id, "report")
                if report is not None:
                    report = {k: v for k, v in report.items() if k != "recipe"}
                    report["model_id"] = values.get("model_id")
            turn = Turn(thread_id=thread_id, status=status, text=note or text, run_id=run_id, requester=requester,
                        report=report, data={"model_id": values.get("model_id"), "command": values.get("command")})
        self._remember(thread_id, run_id=run_id, status=turn.status)
        return turn

    def _remember(self, thread_id: str, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        with self.saver.lock, self._conn:  # the saver's connection: never commit (or roll back) its write half-way
            self._conn.execute("INSERT OR IGNORE INTO agent_threads (thread_id, updated_at) VALUES (?, ?)",
                               [thread_id, now_iso()])
            sets = ", ".join(f"{k} = ?" for k in fields)
            self._conn.execute(f"UPDATE agent_threads SET {sets}{', ' if sets else ''}updated_at = ? "
                               "WHERE thread_id = ?", [*fields.values(), now_iso(), thread_id])


THREAD_KEYS = ("thread_id", "conversation", "requester", "run_id", "status", "command", "updated_at")


def _thread_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {', '.join(THREAD_KEYS)} FROM agent_threads ORDER BY updated_at DESC").fetchall()
    return [dict(zip(THREAD_KEYS, r, strict=True)) for r in rows]


def read_threads(workspace: str | Path) -> list[dict[str, Any]]:
    """The threads of a workspace and their state, read without writing (``autogets chat --list`` works on a
    read-only workspace, and creates nothing)."""
    path = Path(workspace) / "checkpoints.db"
    if not path.is_file() or path.stat().st_size == 0:
        return []
    faults.remember(workspace)
    with contextlib.closing(connect_read_only(path)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'agent_threads'").fetchone():
            return []
        return _thread_rows(conn)


def _unfinished(snapshot: Any) -> bool:
    """Whether the thread stopped inside its graph (a crash) rather than at a review page or at the end.

    A step's tasks are saved as they finish and the step's checkpoint after them, so a process killed in between
    leaves a snapshot whose finished tasks show in ``tasks`` while ``next`` is empty (their successors are not known
    until that checkpoint is written). Streaming ``None`` continues from there."""
    return bool(snapshot.values and (snapshot.next or snapshot.tasks) and not snapshot.interrupts)


def _page(payload: dict[str, Any]) -> ReviewPage:
    return ReviewPage(run_id=payload["run_id"], dataset=payload["dataset"], target=payload["target"],
                      page=payload["page"], pages=payload["pages"],
                      samples=tuple(ReviewSample(**s) for s in payload["samples"]), totals=payload["totals"],
                      regenerations_left=payload["regenerations_left"], requester=payload.get("requester"),
                      token=payload.get("token", ""), page_samples=int(payload.get("page_samples") or 0))
