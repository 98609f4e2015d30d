from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.deliveries import event_key
from bot.listeners.common import bridge_of, tell_failure
from bot.texts import clean_text
from bot.threads import SlackThread


def app_mention_callback(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
    """``@autogets improve ABBR on trec6`` in a channel: the run lives in that message's thread. A retried
    delivery of the same event is ignored."""
    ack()
    if not bridge_of(context).first_delivery(event_key(body)):
        return
    try:
        where = SlackThread(context.team_id or event.get("team", ""), event["channel"],
                            event.get("thread_ts") or event["ts"])
        bridge_of(context).on_text(where, clean_text(event.get("text", ""), context.bot_user_id), event["user"])
    except Exception:
        tell_failure(context, event.get("channel"), event.get("thread_ts") or event.get("ts"), "mention")
