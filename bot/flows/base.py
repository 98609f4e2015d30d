"""What every flow of the bridge shares: its resources (made once, passed in) and the small Slack calls."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.api import ProgressEvent, ReviewDecision, ReviewPage, Turn
from agent.policy import Policy
from bot import blocks
from bot.admission import Parser
from bot.deliveries import Deliveries
from bot.jobs import JobRunner
from bot.metrics import Metrics, StepClock
from bot.progress import ProgressMessage, slack_error
from bot.texts import describe
from bot.threads import SlackThread, ThreadRow, ThreadStore

log = logging.getLogger("bot.bridge")


class AgentLike(Protocol):
    """The agent service API the bot codes against (``agent.service.Agent``)."""

    def thread_for(self, conversation: str) -> str: ...

    def ask(self, conversation: str, text: str, *, user: str,
            on_event: Callable[[ProgressEvent], None] | None = None) -> Turn: ...

    def review(self, thread_id: str, decision: ReviewDecision, *, user: str,
               on_event: Callable[[ProgressEvent], None] | None = None) -> Turn: ...

    def pending_reviews(self) -> list[ReviewPage]: ...

    def threads(self) -> list[dict[str, Any]]: ...


class BridgeBase:
    """The bridge's resources and Slack helpers; the flows (:mod:`bot.flows`) and :class:`bot.bridge.Bridge` build
    on it."""

    def __init__(self, *, agent: AgentLike, client: WebClient, threads: ThreadStore, jobs: JobRunner,
                 parse: Parser, approvers: frozenset[str] = frozenset(), workspace: Path | None = None,
                 progress_seconds: float = 1.5, deliveries: Deliveries | None = None, metrics: Metrics | None = None):
        self.agent, self.client, self.threads, self.jobs = agent, client, threads, jobs
        self.metrics = metrics or Metrics()
        self.parse = parse          # the agent's parser (bot.admission.parser_for): which messages start a run
        self.approvers = approvers
        self.workspace = workspace
        self.progress_seconds = progress_seconds
        self.deliveries = deliveries or Deliveries(threads.path)
        self._modal_pages: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()   # message ts → its blocks
        self._modal_lock = threading.Lock()

    def _row(self, where: SlackThread, **changes: Any) -> ThreadRow:
        """The thread's row, created on first use, with ``changes`` saved."""
        return self.threads.ensure(ThreadRow(conversation=where.conversation,
                                             thread_id=self.agent.thread_for(where.conversation), team=where.team,
                                             channel=where.channel, thread_ts=where.thread_ts), **changes)

    def _events(self, row: ThreadRow, progress: ProgressMessage | None
                ) -> tuple[StepClock, Callable[[ProgressEvent], None]]:
        """The ``on_event`` of one agent call: the step clock (durations, evaluations; :mod:`bot.metrics`) and the
        progress message, if any. Close the clock when the call returned."""
        clock = self.metrics.step_clock(row.dataset)

        def on_event(event: ProgressEvent) -> None:
            try:
                clock.event(event)
            except Exception:  # noqa: BLE001 - metrics never stop a run
                log.exception("progress event not counted")
            if progress is not None:
                progress.update(event)
        return clock, on_event

    def _progress(self, row: ThreadRow) -> ProgressMessage:
        return ProgressMessage(self.client, row.channel, str(row.progress_ts), request=row.request or "your request",
                               user=row.requester or "", interval=self.progress_seconds)

    def _post(self, where: SlackThread, message: dict[str, Any]) -> str:
        response = self.client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts,
                                                unfurl_links=False, **message)
        return str(response["ts"])

    def _update(self, row: ThreadRow, ts: str, message_blocks: list[dict[str, Any]], *, text: str) -> None:
        try:
            self.client.chat_update(channel=row.channel, ts=ts, text=text, blocks=message_blocks)
        except (SlackApiError, OSError) as exc:
            log.warning("message update failed", extra={"conversation": row.conversation, "ts": ts,
                                                        "slack_error": slack_error(exc)})

    def _reopen(self, row: ThreadRow, message_ts: str, message_blocks: list[dict[str, Any]]) -> None:
        """The decision was not applied: the page and its buttons come back."""
        self._update(row, message_ts, message_blocks, text="Review page")
        self.threads.update(row.conversation, review_ts=message_ts)

    def _ephemeral(self, where: SlackThread | None, user: str, text: str) -> None:
        if where is None:
            return
        try:
            self.client.chat_postEphemeral(channel=where.channel, user=user, thread_ts=where.thread_ts,
                                           **blocks.notice_message(text))
        except (SlackApiError, OSError) as exc:
            log.warning("ephemeral failed", extra={"user": user, "slack_error": slack_error(exc)})

    def _may_decide(self, user: str, row: ThreadRow) -> bool:
        """Checked here only to answer a click at once; the agent's review node checks it again."""
        promotion = (row.review_token or "").startswith("promote:")   # a page asking for the second approval
        return Policy(self.approvers).allows(user, "approve promotion" if promotion else "review", row.requester)

    def _refuse(self, row: ThreadRow, user: str, action: str, reason: str = "") -> None:
        log.warning("refused", extra={"conversation": row.conversation, "user": user, "action": action[:80],
                                      "run_id": row.run_id})
        text = blocks.safe(reason, 1000) if reason else (
            f"Only {blocks.mention(row.requester)} (who asked for this run) or an approver can do that.")
        self._ephemeral(row.where, user, f":no_entry: {text}")

    def _models(self) -> list[dict[str, Any]]:
        """Model versions from the workspace registry, read-only (no workspace yet: none)."""
        if self.workspace is None or not (Path(self.workspace) / "autogets.db").exists():
            return []
        from autogets.registry import Registry
        from autogets.workspace import Workspace

        ws = Workspace(self.workspace)
        try:
            return [{"id": v.id, "dataset": v.dataset, "status": v.status, "summary": v.summary}
                    for v in Registry(ws).list()]
        finally:
            ws.close()

    def _guarded(self, where: SlackThread, user: str, job: Callable[[], None]) -> Callable[[], None]:
        """``job``, answering the user in the thread (one sentence) if it fails."""
        def run() -> None:
            try:
                job()
            except Exception as exc:
                log.exception("job failed", extra={"conversation": where.conversation, "user": user})
                try:
                    self._post(where, blocks.failure_message(f"Sorry, that failed: {describe(exc)}."))
                except Exception:
                    log.exception("could not tell the user", extra={"conversation": where.conversation})
        return run
