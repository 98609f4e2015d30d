from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.bridge import clean_text
from bot.listeners.common import bridge_of, tell_failure


def autogets_command_callback(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """``/autogets improve ABBR on trec6``: a parent message in the channel, the run in its thread."""
    ack()
    try:
        bridge_of(context).on_slash(team=command["team_id"], channel=command["channel_id"], user=command["user_id"],
                                    text=clean_text(command.get("text", ""), None), respond=respond)
    except Exception:
        tell_failure(context, command.get("channel_id"), None, "command")
