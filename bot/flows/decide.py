"""A review decision (a click, or the hint modal's submission): checked, shown closed, handed to the agent; the page
comes back if it was not applied."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agent.api import ReviewDecision, Turn
from bot import blocks
from bot.flows.base import BridgeBase
from bot.progress import ProgressMessage
from bot.texts import decision_applied, settle
from bot.threads import ACTIVE_STATES, ThreadRow

log = logging.getLogger("bot.bridge")

MODAL_PAGES = 256   # review messages remembered while their "Regenerate" modal is open (to close them on submit)

class DecideFlow(BridgeBase):
    def _decide(self, conversation: str, user: str, action: str, message_ts: str,
                message_blocks: list[dict[str, Any]], rejected: list[tuple[int, str]], token: str = "",
                pending: int | None = None, *, hint: str = "") -> None:
        row = self.threads.get(conversation)
        if row is None or row.review_ts != message_ts:
            log.info("stale review click", extra={"conversation": conversation, "user": user, "action": action})
            self._ephemeral(row.where if row else None, user, "This page was already decided.")
            return
        if not self._may_decide(user, row):
            self._refuse(row, user, action)
            return
        decision = ReviewDecision(action=action, ids=tuple(k for _, k in rejected)
                                  if action in ("approve_page", "reject") else (), token=token,
                                  hint=hint if action == "regenerate" else "")
        numbers = [n for n, _ in rejected] if decision.ids else []
        self.threads.update(conversation, review_ts=None)
        line = blocks.decision_line(decision, user, numbers, pending)
        self._update(row, message_ts, blocks.closed(message_blocks, line), text="Review decided")
        progress = self._progress(row) if row.progress_ts and row.state in ACTIVE_STATES else None
        clock, on_event = self._events(row, progress)
        try:
            turn = self.agent.review(row.thread_id, decision, user=user, on_event=on_event)
        except Exception:
            clock.close()
            settle(progress)
            self._reopen(row, message_ts, message_blocks)
            raise
        clock.close()
        settle(progress)
        if turn.status not in ("refused", "running", "answer") or decision_applied(turn):
            self.metrics.decided(action)
        log.info("review decided", extra={"conversation": conversation, "user": user, "action": action,
                                          "rejected": len(decision.ids), "status": turn.status})
        if turn.status == "running" and decision_applied(turn):  # applied, then the run stopped (resumable)
            self._stopped(row, turn, progress)
            return
        if turn.status in ("refused", "running"):  # not applied: put the page back as it was
            self._reopen(row, message_ts, message_blocks)
            if turn.status == "refused":
                self._refuse(row, user, action, turn.text)
            else:
                self._ephemeral(row.where, user, blocks.safe(turn.text, 2000))
            return
        if turn.status == "answer" and turn.review is not None:  # that page was decided; another is shown
            self._ephemeral(row.where, user, blocks.safe(turn.text, 2000))
            return
        self._show(self.threads.get(conversation) or row, turn, user, progress)

    def _stopped(self, row: ThreadRow, turn: Turn, progress: ProgressMessage | None) -> None:
        """The decision stays shown as applied; the stop is said apart: the progress message, and the agent's
        sentence (what stopped it, say resume). The run stays active in the thread (resume continues it)."""
        if progress is not None:
            progress.finish("stopped")
        self.threads.update(row.conversation, state="running", run_id=turn.run_id or row.run_id)
        self._post(row.where, blocks.notice_message(f":pause_button: {blocks.safe(turn.text, 2000)}"))

    def _remember_page(self, message_ts: str, message_blocks: Sequence[dict[str, Any]]) -> None:
        with self._modal_lock:
            self._modal_pages[message_ts] = list(message_blocks)
            self._modal_pages.move_to_end(message_ts)
            while len(self._modal_pages) > MODAL_PAGES:
                self._modal_pages.popitem(last=False)

    def _forget_page(self, message_ts: str) -> list[dict[str, Any]] | None:
        with self._modal_lock:
            return self._modal_pages.pop(message_ts, None)

    def _page_blocks(self, row: ThreadRow, message_ts: str, token: str) -> list[dict[str, Any]]:
        """The review message a submitted modal was opened from (to close it with the decision): remembered when
        the modal opened, or (after a restart) drawn again from the page still waiting; else none."""
        remembered = self._forget_page(message_ts)
        if remembered is not None:
            return remembered
        if row.review_ts != message_ts:
            return []   # decided meanwhile: _decide says so, nothing is redrawn
        try:
            page = next((p for p in self.agent.pending_reviews() if p.token == token and p.run_id == row.run_id),
                        None)
        except Exception:  # noqa: BLE001 - the line closing the page is shown alone
            log.exception("review page not redrawn", extra={"conversation": row.conversation})
            page = None
        return blocks.review_message(page, row.thread_id)["blocks"] if page is not None else []
