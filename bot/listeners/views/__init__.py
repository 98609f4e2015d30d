"""Modal submissions. The bot opens no modal yet: review and promotion happen in messages. Kept so every Slack
surface has its ``register(app)`` in the same place."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    return None
