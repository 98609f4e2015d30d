from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest, Respond

from bot.deliveries import command_key
from bot.listeners.common import bridge_of, tell_failure
from bot.texts import clean_text


def autogets_command_callback(ack: Ack, command: dict[str, Any], respond: Respond, context: BoltContext,
                              request: BoltRequest) -> None:
    """``/autogets improve ABBR on trec6``: a parent message in the channel, the run in its thread. The same
    command delivered again (a replayed request) is acknowledged and dropped."""
    ack()
    if not bridge_of(context).first_delivery(command_key(command, request.headers)):
        return
    try:
        bridge_of(context).on_slash(team=command["team_id"], channel=command["channel_id"], user=command["user_id"],
                                    text=clean_text(command.get("text", ""), None), respond=respond)
    except Exception:
        tell_failure(context, command.get("channel_id"), None, "command")
