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
"""

from __future__ import annotations

import html
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.api import ProgressEvent, ReviewDecision, ReviewPage, Turn
from agent.policy import Policy
from agent.service import RESUME_WORDS
from bot import blocks
from bot.admission import Parser, RunRequest, agent_command, run_request
from bot.deliveries import Deliveries
from bot.jobs import Admission, JobRunner
from bot.metrics import Metrics, StepClock
from bot.progress import ProgressMessage, slack_error
from bot.threads import ACTIVE_STATES, SlackThread, ThreadRow, ThreadStore

log = logging.getLogger("bot.bridge")

FINAL_STATUSES = frozenset({"done", "no_gain", "failed", "cancelled", "awaiting_promotion"})
QUIET_STATUSES = frozenset({"answer", "refused", "running"})   # turns that do not move a run on
MODAL_PAGES = 256   # review messages remembered while their "Regenerate" modal is open (to close them on submit)
PLOT_TITLES = {"per_class": "Per-class CBA on test, M0 vs new", "best_so_far": "Best validation gain so far",
               "pca_map": "PCA map of the chosen synthetic texts"}


class AgentLike(Protocol):
    """The agent service API the bot codes against (``agent.service.Agent``)."""

    def thread_for(self, conversation: str) -> str: ...

    def ask(self, conversation: str, text: str, *, user: str,
            on_event: Callable[[ProgressEvent], None] | None = None) -> Turn: ...

    def review(self, thread_id: str, decision: ReviewDecision, *, user: str,
               on_event: Callable[[ProgressEvent], None] | None = None) -> Turn: ...

    def pending_reviews(self) -> list[ReviewPage]: ...

    def threads(self) -> list[dict[str, Any]]: ...


# -- pure helpers --------------------------------------------------------------------------------------------------

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def clean_text(text: str, bot_user_id: str | None) -> str:
    """Slack's message text as the user typed it: the bot's mention removed, ``&amp; &lt; &gt;`` unescaped."""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return " ".join(html.unescape(text).split())


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and any(m.group(1) == user_id for m in _MENTION.finditer(text or ""))


def _settle(progress: ProgressMessage | None) -> None:
    """After the agent returned: its last progress state is sent before the bot posts anything else."""
    if progress is not None:
        progress.flush()


def decision_applied(turn: Turn) -> bool:
    """Whether a ``running`` turn answering a decision means the decision was applied and the run then stopped
    (resumable). The agent refuses before applying anything (thread busy in another process, data set busy) with
    a turn that carries no run state; a turn built from the stored run after the graph ran carries the run's
    requester. An explicit ``turn.data["applied"]`` wins when the agent gives one."""
    if "applied" in turn.data:
        return bool(turn.data["applied"])
    return turn.status == "running" and turn.requester is not None


def describe(exc: Exception) -> str:
    """One clause for the user: Slack's error code, or the exception's class and first line."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error') or 'an error'}"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def is_resume(text: str) -> bool:
    """``resume`` (or ``continue``, ``retry``) typed in a thread: the agent's own words for it."""
    return " ".join(text.lower().split()).strip(" .!") in RESUME_WORDS


def is_help(text: str) -> bool:
    return text.strip().lower() in ("", "help", "?")


def rejected_from_state(state_values: dict[str, Any]) -> list[tuple[int, str]]:
    """``(number, key)`` of the samples ticked in the review message's reject checkboxes."""
    picked: list[tuple[int, str]] = []
    for block in (state_values or {}).values():
        for action_id, element in block.items():
            if not action_id.startswith(blocks.REJECTS_ACTION_PREFIX):
                continue
            for option in element.get("selected_options") or []:
                number, _, key = str(option.get("value", "")).partition(":")
                if number.isdigit() and key:
                    picked.append((int(number), key))
    return sorted(set(picked))


# -- the bridge ----------------------------------------------------------------------------------------------------

class Bridge:
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
        waiting = {page.run_id for page in self.agent.pending_reviews()}
        for row in self.threads.active():
            if row.state == "review" and row.run_id not in waiting:
                self.threads.update(row.conversation, state="running")
        interrupted = self.threads.mark_interrupted()
        for row in interrupted:
            log.warning("run interrupted by a restart", extra={"conversation": row.conversation, "run_id": row.run_id})
        for row in self.threads.active():
            if row.dataset:
                self.jobs.hold(row.dataset, row.conversation)
        return interrupted

    # -- entry points (called by listeners after ack) ------------------------------------------------------------

    def on_text(self, where: SlackThread, text: str, user: str, *, known_threads_only: bool = False) -> bool:
        """A request typed in Slack (mention, DM, slash command, reply in a run's thread). False if ignored.

        A reply in a thread whose run is active goes to the agent as typed (status, cancel, approve all, resume);
        any other message is read by the agent's parser first (:meth:`_route`), off the listener."""
        conversation = where.conversation
        row = self.threads.get(conversation)
        if known_threads_only and (row is None or row.dataset is None):  # only a run's thread, not any chat
            return False
        if row is not None and row.state == "interrupted" and row.dataset and is_resume(text):
            # the run computes again: it waits its turn in its data set's queue like any run
            run = RunRequest(key=row.dataset, command="resume", request=None)
            self.jobs.submit(f"{conversation}:{uuid.uuid4().hex}",
                             self._guarded(where, user, lambda: self._admit(where, text, user, run)))
        elif row is not None and row.state in ACTIVE_STATES:
            self.jobs.submit(f"{conversation}:{uuid.uuid4().hex}",
                             self._guarded(where, user, lambda: self._converse(where, text, user)))
        else:
            self.jobs.submit(f"{conversation}:{uuid.uuid4().hex}",
                             self._guarded(where, user, lambda: self._route(where, text, user)))
        return True

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

    # -- jobs ----------------------------------------------------------------------------------------------------

    def _route(self, where: SlackThread, text: str, user: str) -> None:
        """A message outside an active run: a run request is admitted to its data set's queue; anything else is
        the agent's to answer."""
        parsed = self.parse(text)
        run = run_request(parsed)
        if run is None:
            self._converse(where, agent_command(parsed, text), user, shown=text)
            return
        self._admit(where, text, user, run)

    def _admit(self, where: SlackThread, text: str, user: str, run: RunRequest) -> None:
        """Start ``run`` now, queue it (row and "queued" message before the run can start), or refuse it."""
        conversation = where.conversation

        resuming = run.request is None
        requester = (self.threads.get(conversation) or self._row(where)).requester if resuming else user

        def queued(admission: Admission) -> None:
            self._row(where, requester=requester or user, dataset=run.key, state="queued", request=text)
            self._post(where, blocks.queued_message(run.key, admission.position, admission.running))

        admission = self.jobs.admit(run.key, conversation, lambda _: self._guarded(
            where, user, lambda: self._start_run(where, text, user, run, requester=requester))(), label=text,
            on_queued=lambda admission: self._guarded(where, user, lambda: queued(admission))())
        log.info("run request", extra={"conversation": conversation, "dataset": run.key, "user": user,
                                       "admission": admission.status, "position": admission.position})
        if admission.status == "refused":
            self._post(where, blocks.notice_message(f":no_entry: {blocks.safe(admission.reason, 500)}."))

    def _start_run(self, where: SlackThread, text: str, user: str, run: RunRequest, *,
                   requester: str | None = None) -> None:
        """Ask the agent ``run`` (a new run, or ``resume`` of an interrupted one) once its data set is ours."""
        conversation, dataset = where.conversation, run.key
        progress: ProgressMessage | None = None
        try:
            posted = self.client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts,
                                                  **blocks.progress_message(request=text, user=user))
            row = self._row(where, requester=requester or user, dataset=dataset, state="running", request=text,
                            progress_ts=posted["ts"], review_ts=None, report_ts=None)
            progress = self._progress(row)
            clock, on_event = self._events(row, progress)
            try:
                turn = self.agent.ask(conversation, run.command, user=user, on_event=on_event)
            finally:
                clock.close()
            progress.flush()
        except Exception:  # the run never got going: free the data set, then the guard tells the user
            if progress is not None:
                progress.finish("failed")
            self._row(where, state="finished")
            self.jobs.release(dataset, conversation)
            raise
        if turn.status in QUIET_STATUSES:  # the run did not start (unknown class, refused, …)
            progress.finish(turn.status)
            self.threads.update(conversation, state="idle" if run.request is not None else "interrupted")
            self.jobs.release(dataset, conversation)
        self._show(self.threads.get(conversation) or row, turn, user, progress, text=text)

    def _converse(self, where: SlackThread, text: str, user: str, *, shown: str | None = None) -> None:
        """Ask the agent ``text`` (``shown``: what the user typed, if the agent is asked a canonical command)."""
        row = self.threads.get(where.conversation) or self._row(where)
        progress = self._progress(row) if row.progress_ts and row.state in ACTIVE_STATES else None
        clock, on_event = self._events(row, progress)
        try:
            turn = self.agent.ask(where.conversation, text, user=user, on_event=on_event)
        finally:
            clock.close()
            _settle(progress)
        if turn.requester and row.requester is None:  # a run the agent reports: its requester may decide on it
            row = self.threads.update(where.conversation, requester=turn.requester)
        self._show(self.threads.get(where.conversation) or row, turn, user, progress,
                   text=text if shown is None else shown)

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
            _settle(progress)
            self._reopen(row, message_ts, message_blocks)
            raise
        clock.close()
        _settle(progress)
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

    def _promote(self, conversation: str, user: str, model_id: str, message_ts: str,
                 message_blocks: list[dict[str, Any]], discard: bool) -> None:
        row = self.threads.get(conversation)
        if row is None or row.report_ts != message_ts:
            self._ephemeral(row.where if row else None, user, "This model was already promoted or discarded.")
            return
        if not self._may_decide(user, row):
            self._refuse(row, user, "discard" if discard else "promote")
            return
        if discard:
            self.threads.update(conversation, report_ts=None)
            self._update(row, message_ts, blocks.closed(message_blocks, f":wastebasket: Discarded by "
                         f"{blocks.mention(user)}: `{blocks.code(model_id)}` stays a candidate, not in production."),
                         text="Discarded")
            log.info("model discarded", extra={"conversation": conversation, "user": user, "model_id": model_id})
            return
        turn = self.agent.ask(conversation, f"promote {model_id}", user=user)
        log.info("promote", extra={"conversation": conversation, "user": user, "model_id": model_id,
                                   "status": turn.status})
        if turn.status == "refused":
            self._refuse(row, user, "promote", turn.text)
            return
        self.threads.update(conversation, report_ts=None)          # nobody can click twice
        self._update(row, message_ts, blocks.closed(message_blocks, f":rocket: Promote asked by "
                                                    f"{blocks.mention(user)}"), text="Promote asked")
        self._show(self.threads.get(conversation) or row, turn, user, None)

    def _publish_home(self, user: str) -> None:
        try:
            view = blocks.home_view(self._models(), sorted(self.agent.threads(), key=lambda t: str(
                t.get("updated_at", "")), reverse=True), self.agent.pending_reviews())
            self.client.views_publish(user_id=user, view=view)
        except (SlackApiError, OSError) as exc:
            log.warning("home not published", extra={"user": user, "slack_error": slack_error(exc)})

    # -- showing a turn ------------------------------------------------------------------------------------------

    def _show(self, row: ThreadRow, turn: Turn, user: str, progress: ProgressMessage | None, *,
              text: str = "") -> None:
        """Put ``turn`` in the thread: review page, report and plots, failure, or answer."""
        where, conversation = row.where, row.conversation
        log.info("turn", extra={"conversation": conversation, "status": turn.status, "run_id": turn.run_id,
                                "user": user})
        if turn.status == "refused":
            self._refuse(row, user, text or "request", turn.text)
            return
        if turn.status in QUIET_STATUSES:
            message = blocks.help_message(turn.text) if is_help(text) or turn.data.get("kind") == "help" \
                else blocks.turn_answer_message(turn)
            self._post(where, message)
            return
        token = getattr(turn.review, "token", "") if turn.review else str(turn.data.get("token") or "")
        if row.review_ts and token and token == row.review_token:  # the same page is still on show ("status")
            self._post(where, blocks.answer_message(turn.text or "The page above still waits for a decision."))
            return
        if progress is not None:
            progress.finish(turn.status)
        if row.review_ts:  # a page still showing buttons was decided another way (typed "approve all", cancel)
            self._update(row, row.review_ts, blocks.closed([], f"Decided in the thread by {blocks.mention(user)}."),
                         text="Review decided")
            self.threads.update(conversation, review_ts=None)
        if turn.status == "review" and turn.review is not None:
            posted = self._post(where, blocks.review_message(turn.review, row.thread_id))
            self.threads.update(conversation, state="review", run_id=turn.review.run_id or turn.run_id,
                                review_ts=posted, review_page=turn.review.page, review_token=token)
            return
        if turn.status == "awaiting_promotion" and not turn.report:  # "promote X" needs a second approver
            posted = self._post(where, blocks.promotion_message(turn, row.thread_id))
            self.threads.update(conversation, review_ts=posted, review_token=token, review_page=None)
            return
        # The run ended: free its data set first, so a failing post cannot hold it.
        self.threads.update(conversation, state="finished", review_ts=None, run_id=turn.run_id or row.run_id)
        if row.state in ACTIVE_STATES and row.dataset and turn.status in FINAL_STATUSES:
            self.jobs.release(row.dataset, conversation)
        if turn.status in ("done", "no_gain", "awaiting_promotion") and turn.report:
            report_ts = self._post(where, blocks.report_message(turn, row.thread_id))
            model_id = turn.report.get("model_id")
            if model_id and turn.status in ("done", "awaiting_promotion"):
                self.threads.update(conversation, report_ts=report_ts, model_id=model_id)
            self._upload_plots(where, turn.report.get("files") or {})
        elif turn.status == "failed":
            self._post(where, blocks.failure_message(turn.text))
        else:
            self._post(where, blocks.turn_answer_message(turn))

    def _upload_plots(self, where: SlackThread, files: dict[str, Any]) -> None:
        uploads = [{"file": str(path), "filename": Path(path).name, "title": PLOT_TITLES.get(name, name)}
                   for name, path in files.items() if str(path).endswith(".png") and Path(path).is_file()]
        if not uploads:
            return
        try:
            self.client.files_upload_v2(channel=where.channel, thread_ts=where.thread_ts, file_uploads=uploads)
        except (SlackApiError, OSError) as exc:
            log.warning("plots not uploaded", extra={"conversation": where.conversation,
                                                     "slack_error": slack_error(exc)})
            self._post(where, blocks.notice_message("The plots could not be uploaded "
                                                    f"({blocks.safe(slack_error(exc), 80)})."))

    # -- the review message behind an open modal ----------------------------------------------------------------

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

    # -- small Slack helpers -------------------------------------------------------------------------------------

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
        return Policy(self.approvers).allows(user, "review", row.requester)

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
