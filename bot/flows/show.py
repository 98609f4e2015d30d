"""Putting an agent turn in its thread: review page, report and plots, failure, or answer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError

from agent.api import Turn
from bot import blocks
from bot.flows.base import BridgeBase
from bot.progress import ProgressMessage, slack_error
from bot.texts import FINAL_STATUSES, QUIET_STATUSES, is_help
from bot.threads import ACTIVE_STATES, SlackThread, ThreadRow

log = logging.getLogger("bot.bridge")

PLOT_TITLES = {"per_class": "Per-class CBA on test, M0 vs new", "best_so_far": "Best validation gain so far",
               "pca_map": "PCA map of the chosen synthetic texts"}

class TurnDisplay(BridgeBase):
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
