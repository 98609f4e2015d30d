"""Start-up of a bot process on a workspace a previous process served (issue 22 item 4).

:meth:`bot.bridge.Bridge.restore` marks the runs left ``running`` interrupted and lets the runs waiting for a review
hold their data set again. The job runner's queue lived in the previous process's memory, so the requests it held
(rows left ``queued``) are then asked again here, in the order they were queued (:meth:`ThreadStore.queued`), through
the same entry point as a typed request (:meth:`Bridge.on_text`, the one authority on admission): each starts now if
its data set is free, else it is queued again and its thread is told its position. Each thread first hears that
the bot restarted and picked its request up.

Only one bot process serves a workspace (:mod:`bot.lease`), so the rows read here are this process's to take.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.bridge import Bridge
from bot.progress import slack_error
from bot.threads import ThreadRow

log = logging.getLogger("bot.restart")


def tell_interrupted(bridge: Bridge, rows: list[ThreadRow]) -> None:
    """Each run the previous process left computing: a review page it left open is closed (its buttons would act on
    nothing), and its thread hears it stopped and how to go on."""
    for row in rows:
        if row.review_ts:
            _close_page(bridge, row)
        _post(bridge, row, blocks.notice_message(
            f":pause_button: The bot restarted while run {blocks.safe(row.run_id or 'of this thread', 80)} was "
            "working; nothing it stored is lost. Say `resume` in this thread to continue it."))


def _close_page(bridge: Bridge, row: ThreadRow) -> None:
    bridge.threads.update(row.conversation, review_ts=None)
    try:
        bridge.client.chat_update(channel=row.channel, ts=str(row.review_ts), **blocks.notice_message(
            "Review page closed: the bot restarted while the run went on after a decision on it."))
    except (SlackApiError, OSError) as exc:
        log.warning("review page not closed", extra={"conversation": row.conversation,
                                                     "slack_error": slack_error(exc)})


def readmit_queued(bridge: Bridge) -> list[ThreadRow]:
    """Ask again every request left queued by the previous process, oldest first; returns their rows."""
    rows = bridge.threads.queued()
    for row in rows:
        readmit(bridge, row)
    return rows


def readmit(bridge: Bridge, row: ThreadRow) -> None:
    """One queued request: say so in its thread, then hand it to the bridge as if it were typed again."""
    if not row.request or not row.requester:   # nothing to ask again: the row no longer waits
        bridge.threads.update(row.conversation, state="idle")
        log.warning("queued row without a request dropped", extra={"conversation": row.conversation})
        return
    log.info("queued request asked again after a restart", extra={"conversation": row.conversation,
                                                                  "dataset": row.dataset, "user": row.requester})
    _tell(bridge, row)
    bridge.requeue(row)


def _tell(bridge: Bridge, row: ThreadRow) -> None:
    _post(bridge, row, blocks.requeued_message(row.request or ""))


def _post(bridge: Bridge, row: ThreadRow, message: dict) -> None:
    try:
        bridge.client.chat_postMessage(channel=row.channel, thread_ts=row.thread_ts, unfurl_links=False, **message)
    except (SlackApiError, OSError) as exc:   # the request is asked again all the same
        log.warning("restart notice not posted", extra={"conversation": row.conversation,
                                                        "slack_error": slack_error(exc)})
