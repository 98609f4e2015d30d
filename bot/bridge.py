"""Slack ↔ agent: what a listener hands over after its ack, and how a :class:`agent.api.Turn` is shown.

The bridge holds no method logic and no grammar: a message outside a run's thread is read by the agent's own parser
(:mod:`bot.admission`); a request that starts a run is queued per data set under the data set that parse names, its
thread row records the requester, and the agent is asked the canonical command. Each entry point submits a job to
the :class:`bot.jobs.JobRunner` and returns at once; a job that fails answers the user in the thread with one
sentence.

One run, one thread: the request's thread gets one progress message (updated in place off the run's thread,
:mod:`bot.progress`; settled before anything else is posted), then the review pages, then the report with its
plots. A click is checked against the thread's row (is this page still waiting? is the user the requester or an
approver?) before the agent hears of it; the agent checks the same rules again.

This module holds the entry points only; each flow is a module of :mod:`bot.flows` (``start``: admission and
starting a run; ``converse``: anything else said; ``decide``: review decisions; ``promote``; ``show``: putting a turn
in its thread; ``base``: the resources and small Slack calls they share). Pure helpers are :mod:`bot.texts`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError

from agent.api import ReviewPage
from agent.requests import thread_intent
from agent.service import is_resume
from bot import blocks
from bot.admission import RunRequest
from bot.flows.base import AgentLike, BridgeBase
from bot.flows.converse import ConverseFlow
from bot.flows.decide import DecideFlow
from bot.flows.promote import PromoteFlow
from bot.flows.show import TurnDisplay
from bot.flows.start import StartFlow
from bot.progress import slack_error
from bot.texts import rejected_from_state
from bot.threads import ACTIVE_STATES, SlackThread, ThreadRow

__all__ = ["AgentLike", "Bridge", "BridgeBase"]

log = logging.getLogger("bot.bridge")


class Bridge(StartFlow, ConverseFlow, DecideFlow, PromoteFlow, TurnDisplay):
    """Slack's entry points: each submits a job for its flow (:mod:`bot.flows`) and returns at once."""

    def first_delivery(self, key: str | None) -> bool:
        """False for a request delivered again (Slack's retry after a slow or lost ack, also to a restarted bot; a
        replayed slash command): it was handled once. ``key``: :func:`bot.deliveries.event_key` or
        :func:`~bot.deliveries.command_key`."""
        if self.deliveries.first(key):
            return True
        log.info("delivered again: not handled", extra={"kind": (key or "").partition(":")[0]})
        return False

    def restore(self) -> list[ThreadRow]:
        """After a restart: runs left computing are marked interrupted (returned; :mod:`bot.restart` tells their
        threads); runs waiting for review hold their data set. A thread left in ``review`` whose run no page waits
        for was computing after a decision when the process died: interrupted too."""
        pages = {page.run_id: page for page in self.agent.pending_reviews()}
        for row in self.threads.active():
            if row.state == "review" and row.run_id not in pages:
                self.threads.update(row.conversation, state="running")
            elif row.state == "running" and row.run_id in pages:  # paused at a page the old process never posted
                self._reshow(row, pages[row.run_id])
        interrupted = self.threads.mark_interrupted()
        for row in interrupted:
            log.warning("run interrupted by a restart", extra={"conversation": row.conversation, "run_id": row.run_id})
        for row in self.threads.active():
            if row.dataset:
                self.jobs.hold(row.dataset, row.conversation)
        return interrupted

    def on_text(self, where: SlackThread, text: str, user: str, *, known_threads_only: bool = False) -> bool:
        """A request typed in Slack (mention, DM, slash command, reply in a run's thread). False if ignored.

        A reply in a thread whose run is active goes to the agent as typed (status, cancel, approve all, resume);
        any other message is read by the agent's parser first (:meth:`_route`), off the listener."""
        conversation = where.conversation
        row = self.threads.get(conversation)
        if known_threads_only and (row is None or row.dataset is None):  # only a run's thread, not any chat
            return False
        job = self._text_job(row, where, text, user)
        self.jobs.submit(f"{conversation}:{uuid.uuid4().hex}", self._guarded(where, user, job))
        return True

    def _text_job(self, row: ThreadRow | None, where: SlackThread, text: str, user: str) -> Callable[[], None]:
        """What a typed message does, by the state of its thread."""
        state = row.state if row is not None else None
        if state == "queued":   # the queue answers: its place, a withdrawal, or "already waiting" for a resume
            intent = thread_intent(text)
            if intent == "status":
                return lambda: self._queue_status(row)
            if intent == "cancel":
                return lambda: self._withdraw(row, user)
            if is_resume(text):
                return lambda: self._post(where, blocks.notice_message(
                    f"Already waiting in the {blocks.safe(row.dataset or '', 80)} queue: it goes on when its turn "
                    "comes."))
        if state == "interrupted" and row.dataset and is_resume(text):
            # the run computes again: it waits its turn in its data set's queue like any run
            run = RunRequest(key=row.dataset, command="resume", request=None)
            return lambda: self._admit(where, text, user, run)
        if state in ACTIVE_STATES:
            return lambda: self._converse(where, text, user)
        return lambda: self._route(where, text, user)

    def _reshow(self, row: ThreadRow, page: ReviewPage) -> None:
        """Post the page a run waits at, which the previous process did not get to post (or post in full)."""
        try:
            posted = self._post(row.where, blocks.review_message(page, row.thread_id))
        except (SlackApiError, OSError) as exc:
            log.warning("waiting page not posted again", extra={"conversation": row.conversation,
                                                                 "slack_error": slack_error(exc)})
            posted = None
        self.threads.update(row.conversation, state="review", review_ts=posted, review_page=page.page,
                            review_token=page.token)

    def _queue_status(self, row: ThreadRow) -> None:
        """``status`` in a thread whose request waits in its data set's queue: its place, from the queue itself."""
        waiting = self.jobs.waiting(row.dataset or "")
        if row.conversation not in waiting:
            self._post(row.where, blocks.notice_message("This thread's request is no longer in a queue."))
            return
        self._post(row.where, blocks.queued_message(row.dataset or "", waiting.index(row.conversation) + 1,
                                                    len(self.jobs.running(row.dataset or ""))))

    def _withdraw(self, row: ThreadRow, user: str) -> None:
        """``cancel`` typed in a thread whose request waits in its data set's queue (the requester or an approver)."""
        if not self._may_decide(user, row):
            self._refuse(row, user, "cancel")
            return
        if row.dataset and self.jobs.withdraw(row.dataset, row.conversation):
            self.threads.update(row.conversation, state="idle" if row.run_id is None else "interrupted")
            self._post(row.where, blocks.notice_message(f"Withdrawn by {blocks.mention(user)}: the queued request "
                                                        "will not start."))
        else:
            self._post(row.where, blocks.notice_message("Nothing of this thread waits in a queue any more."))

    def on_slash(self, *, team: str, channel: str, user: str, text: str,
                 respond: Callable[..., Any] | None = None) -> None:
        """``/autogets …``: a parent message in the channel starts the thread the run lives in."""
        def job() -> None:
            try:
                parent = self.client.chat_postMessage(channel=channel, **blocks.slash_parent_message(user, text))
            except SlackApiError as exc:
                log.warning("slash command: cannot post", extra={"channel": channel, "slack_error": slack_error(exc)})
                if respond is not None:
                    respond(text="I can't post in this channel: invite me (`/invite @AutoGeTS`) or DM me.",
                            response_type="ephemeral")
                return
            self.on_text(SlackThread(team, channel, parent["ts"]), text or "help", user)
        self.jobs.submit(f"slash:{uuid.uuid4().hex}", job)

    def on_review_click(self, *, user: str, action: str, value: str, message_ts: str,
                        message_blocks: Sequence[dict[str, Any]], state_values: dict[str, Any]) -> None:
        """A decision button on a review page (or on a promotion waiting for approval)."""
        thread_id, _, token = blocks.parse_decision_value(value)
        row = self.threads.by_thread_id(thread_id)
        if row is None:
            log.warning("click on an unknown thread", extra={"thread_id": thread_id, "user": user})
            return
        rejected = rejected_from_state(state_values)
        pending = blocks.pending_in_value(value)
        self.jobs.submit(row.conversation, self._guarded(row.where, user, lambda: self._decide(
            row.conversation, user, action, message_ts, list(message_blocks), rejected, token, pending)))

    def on_regenerate_click(self, *, user: str, value: str, message_ts: str, trigger_id: str,
                            message_blocks: Sequence[dict[str, Any]]) -> None:
        """"Regenerate" on a review page: opens the hint modal with the click's ``trigger_id``. Called in the
        listener right after its ack, not on the job queue: Slack accepts ``views.open`` within 3 seconds of the
        click only. A page already decided, or a user who may not decide, gets the click's usual answer instead
        (no modal); a modal Slack refuses to open (trigger expired) falls back to regenerating without a hint, and
        the user is told so."""
        thread_id, _, _ = blocks.parse_decision_value(value)
        row = self.threads.by_thread_id(thread_id)
        if row is None or row.review_ts != message_ts or not self._may_decide(user, row):
            self.on_review_click(user=user, action="regenerate", value=value, message_ts=message_ts,
                                 message_blocks=message_blocks, state_values={})
            return
        self._remember_page(message_ts, message_blocks)
        try:
            self.client.views_open(trigger_id=trigger_id, view=blocks.regenerate_modal(value, message_ts))
        except (SlackApiError, OSError) as exc:
            log.warning("hint modal not opened", extra={"conversation": row.conversation, "user": user,
                                                        "slack_error": slack_error(exc)})
            self._forget_page(message_ts)
            self._ephemeral(row.where, user, f"I could not open the hint form ({blocks.safe(slack_error(exc), 80)})"
                                             ": regenerating without a hint.")
            self.on_review_click(user=user, action="regenerate", value=value, message_ts=message_ts,
                                 message_blocks=message_blocks, state_values={})

    def on_regenerate_submit(self, *, user: str, private_metadata: str, hint: str) -> None:
        """The hint modal was submitted (the listener acked, which closed it): regenerate with ``hint`` through the
        same path as a click (page still waiting? user the requester or an approver?). Metadata that is not the
        modal's own is logged and dropped."""
        target = blocks.modal_target(private_metadata)
        if target is None:
            log.warning("modal submission not understood", extra={"user": user})
            return
        value, message_ts = target
        thread_id, _, token = blocks.parse_decision_value(value)
        row = self.threads.by_thread_id(thread_id)
        if row is None:
            log.warning("modal submission for an unknown thread", extra={"thread_id": thread_id[:80], "user": user})
            return
        hint = " ".join(str(hint or "").split())[:blocks.HINT_CHARS]

        def job() -> None:
            self._decide(row.conversation, user, "regenerate", message_ts, self._page_blocks(row, message_ts, token),
                         [], token, hint=hint)
        self.jobs.submit(row.conversation, self._guarded(row.where, user, job))

    def on_promote_click(self, *, user: str, value: str, message_ts: str,
                         message_blocks: Sequence[dict[str, Any]], discard: bool = False) -> None:
        thread_id, _, model_id = value.partition("|")
        row = self.threads.by_thread_id(thread_id)
        if row is None:
            log.warning("click on an unknown thread", extra={"thread_id": thread_id, "user": user})
            return
        self.jobs.submit(row.conversation, self._guarded(row.where, user, lambda: self._promote(
            row.conversation, user, model_id, message_ts, list(message_blocks), discard)))

    def on_home_opened(self, user: str) -> None:
        self.jobs.submit(f"home:{user}", lambda: self._publish_home(user))

    def _publish_home(self, user: str) -> None:
        try:
            view = blocks.home_view(self._models(), sorted(self.agent.threads(), key=lambda t: str(
                t.get("updated_at", "")), reverse=True), self.agent.pending_reviews())
            self.client.views_publish(user_id=user, view=view)
        except (SlackApiError, OSError) as exc:
            log.warning("home not published", extra={"user": user, "slack_error": slack_error(exc)})
