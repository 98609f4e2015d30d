from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.listeners.common import bridge_of, tell_failure


def discard_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    """"Discard" on a report: the buttons go away and the model stays a candidate."""
    ack()
    container = body.get("container", {})
    try:
        bridge_of(context).on_promote_click(user=body["user"]["id"], value=action["value"],
                                            message_ts=container["message_ts"],
                                            message_blocks=body.get("message", {}).get("blocks", []), discard=True)
    except Exception:
        tell_failure(context, container.get("channel_id"), container.get("thread_ts"), "click")
