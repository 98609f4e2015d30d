"""Promote or discard the model a report offers."""

from __future__ import annotations

import logging
from typing import Any

from bot import blocks
from bot.flows.base import BridgeBase

log = logging.getLogger("bot.bridge")

class PromoteFlow(BridgeBase):
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
