from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.listeners.common import bridge_of, tell_failure


def promote_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    """"Promote" on a report: the agent is asked ``promote <model id>`` on behalf of the clicker."""
    ack()
    container = body.get("container", {})
    try:
        bridge_of(context).on_promote_click(user=body["user"]["id"], value=action["value"],
                                            message_ts=container["message_ts"],
                                            message_blocks=body.get("message", {}).get("blocks", []))
    except Exception:
        tell_failure(context, container.get("channel_id"), container.get("thread_ts"), "click")
