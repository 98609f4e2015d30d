"""Anything else said to the bot: the agent answers it (in a run's thread: status, cancel, approve all, resume)."""

from __future__ import annotations

from bot.flows.base import BridgeBase
from bot.texts import settle
from bot.threads import ACTIVE_STATES, SlackThread


class ConverseFlow(BridgeBase):
    def _converse(self, where: SlackThread, text: str, user: str, *, shown: str | None = None) -> None:
        """Ask the agent ``text`` (``shown``: what the user typed, if the agent is asked a canonical command)."""
        row = self.threads.get(where.conversation) or self._row(where)
        progress = self._progress(row) if row.progress_ts and row.state in ACTIVE_STATES else None
        clock, on_event = self._events(row, progress)
        try:
            turn = self.agent.ask(where.conversation, text, user=user, on_event=on_event)
        finally:
            clock.close()
            settle(progress)
        if turn.requester and row.requester is None:  # a run the agent reports: its requester may decide on it
            row = self.threads.update(where.conversation, requester=turn.requester)
        self._show(self.threads.get(where.conversation) or row, turn, user, progress,
                   text=text if shown is None else shown)
