"""Events: mentions, direct messages and replies in a run's thread, and the App Home tab.

Registered from :data:`bot.surface.BOT_EVENTS`, the list the manifest test compares with the manifest.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from bot.listeners.events.app_home_opened import app_home_opened_callback
from bot.listeners.events.app_mention import app_mention_callback
from bot.listeners.events.message import message_callback
from bot.surface import BOT_EVENTS

CALLBACKS: dict[str, Callable[..., None]] = {
    "app_mention": app_mention_callback,
    "app_home_opened": app_home_opened_callback,
    "message": message_callback,
}


def register(app: App) -> None:
    for event_type in sorted({event for event, _, _ in BOT_EVENTS.values()}):
        app.event(event_type)(CALLBACKS[event_type])
