from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.listeners.common import bridge_of


def app_home_opened_callback(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
    """The Home tab: production models, last runs and runs waiting for review (published by a job)."""
    ack()
    if event.get("tab", "home") == "home" and event.get("user"):
        bridge_of(context).on_home_opened(event["user"])
