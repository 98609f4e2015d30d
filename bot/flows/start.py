"""Starting a run: a request admitted to its data set's queue (or refused), then asked of the agent once the data set is
the run's."""

from __future__ import annotations

import logging

from agent.service import is_resume
from bot import blocks
from bot.admission import RunRequest, agent_command, run_request
from bot.flows.base import BridgeBase
from bot.jobs import Admission
from bot.progress import ProgressMessage
from bot.texts import QUIET_STATUSES
from bot.threads import SlackThread, ThreadRow

log = logging.getLogger("bot.bridge")

class StartFlow(BridgeBase):
    def requeue(self, row: ThreadRow) -> None:
        """After a restart: ask a request the previous process held in its queue again, now (admissions in the
        order the caller gives them), a ``resume`` as a resume of the thread's run."""
        if not row.request or not row.requester:
            return
        if is_resume(row.request) and row.dataset:
            self._admit(row.where, row.request, row.requester, RunRequest(key=row.dataset, command="resume",
                                                                          request=None))
        else:
            self._route(row.where, row.request, row.requester)

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
            row = self.threads.get(conversation)
            waiting = row is not None and row.state == "queued" and row.request  # asked again: the first request
            self._row(where, requester=row.requester if waiting else (requester or user), dataset=run.key,
                      state="queued", request=row.request if waiting else text)
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
        if turn.status in QUIET_STATUSES:  # the run did not start (unknown class, refused, …), or stopped resumably
            progress.finish(turn.status)
            stopped = run.request is None or (turn.status == "running" and turn.run_id is not None)
            self.threads.update(conversation, state="interrupted" if stopped else "idle",
                                **({"run_id": turn.run_id} if turn.run_id else {}))
            self.jobs.release(dataset, conversation)
        self._show(self.threads.get(conversation) or row, turn, user, progress, text=text)
