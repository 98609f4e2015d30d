from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot import blocks
from bot.listeners.common import bridge_of, tell_failure


def review_button_callback(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    """Approve page / Approve all / Reject all / Regenerate / Next page / Cancel on a review page; the ticked
    reject checkboxes come with the click in ``state.values``. "Regenerate" opens the hint modal here, right after
    the ack (Slack accepts ``views.open`` within 3 seconds of the click)."""
    ack()
    container = body.get("container", {})
    name = action["action_id"].removeprefix(blocks.REVIEW_ACTION_PREFIX)
    try:
        if name == "regenerate":
            bridge_of(context).on_regenerate_click(
                user=body["user"]["id"], value=action["value"], message_ts=container["message_ts"],
                trigger_id=body.get("trigger_id") or "", message_blocks=body.get("message", {}).get("blocks", []))
            return
        bridge_of(context).on_review_click(
            user=body["user"]["id"], action=name,
            value=action["value"], message_ts=container["message_ts"],
            message_blocks=body.get("message", {}).get("blocks", []),
            state_values=body.get("state", {}).get("values", {}))
    except Exception:
        tell_failure(context, container.get("channel_id"), container.get("thread_ts"), "click")
