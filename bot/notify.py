"""Team notifications: the agent's :class:`agent.api.Notifier`, posting to ``AUTOGETS_NOTIFY_CHANNEL``.

A new model, a promotion and a rollback are posted with the gain and its interval, who did it, and a permalink
(``chat.getPermalink``) to the thread where it happened. Other kinds are not posted (the thread already shows
them). A failure to notify is logged, never raised into the agent. Every notification is also counted
(:meth:`bot.metrics.Metrics.notified`: runs started, finished, failed, cancelled by data set).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.metrics import Metrics
from bot.progress import slack_error
from bot.settings import BotSettings
from bot.threads import ThreadStore

log = logging.getLogger("bot.notify")

POSTED_KINDS = frozenset({"model_registered", "promoted", "rolled_back"})


class SlackNotifier:
    def __init__(self, client: WebClient, channel: str | None, threads: ThreadStore,
                 kinds: frozenset[str] = POSTED_KINDS, metrics: Metrics | None = None):
        self.client, self.channel, self.threads, self.kinds = client, channel, threads, kinds
        self.metrics = metrics if metrics is not None else getattr(client, "metrics", None)

    @classmethod
    def from_settings(cls, client: WebClient, settings: BotSettings, metrics: Metrics | None = None) -> SlackNotifier:
        return cls(client, settings.notify_channel, ThreadStore(settings.workspace), metrics=metrics)

    def notify(self, kind: str, payload: dict[str, Any]) -> None:
        if self.metrics is not None:
            try:
                self.metrics.notified(kind, self._dataset(payload))
            except Exception:  # noqa: BLE001 - metrics never stop a notification
                log.exception("notification not counted", extra={"kind": kind})
        if kind not in self.kinds:
            return
        if not self.channel:
            log.info("notification not posted: AUTOGETS_NOTIFY_CHANNEL is not set", extra={"kind": kind})
            return
        try:
            message = blocks.notification_message(kind, payload, self._permalink(payload.get("conversation")))
            self.client.chat_postMessage(channel=self.channel, unfurl_links=False, **message)
            log.info("notified", extra={"kind": kind, "run_id": payload.get("run_id"),
                                        "model_id": payload.get("model_id")})
        except (SlackApiError, OSError) as exc:
            log.warning("notification failed", extra={"kind": kind, "slack_error": slack_error(exc)})

    def _dataset(self, payload: dict[str, Any]) -> str | None:
        """The data set as the bot queues it (the thread's), else as the notification names it (``failed`` and
        ``cancelled`` name none)."""
        conversation = payload.get("conversation")
        row = self.threads.get(conversation) if conversation else None
        return (row.dataset if row is not None else None) or payload.get("dataset")

    def _permalink(self, conversation: str | None) -> str | None:
        row = self.threads.get(conversation) if conversation else None
        if row is None:
            return None
        try:
            return self.client.chat_getPermalink(channel=row.channel, message_ts=row.thread_ts).get("permalink")
        except (SlackApiError, OSError) as exc:
            log.warning("permalink failed", extra={"slack_error": slack_error(exc)})
            return None
