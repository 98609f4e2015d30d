from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.deliveries import event_key
from bot.listeners.common import bridge_of, tell_failure
from bot.surface import message_channel_types
from bot.texts import clean_text, mentions
from bot.threads import SlackThread


def message_callback(ack: Ack, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
    """A direct message (any), or a reply in the thread of a run (``status``, ``cancel``, ``approve all``).

    Edits, joins, bot messages and channel messages outside a known run's thread are ignored; a channel message
    that mentions the bot is left to the ``app_mention`` listener.
    """
    ack()
    if event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return
    channel_type = event.get("channel_type")
    if channel_type not in message_channel_types():
        return
    raw = event.get("text", "")
    if channel_type != "im" and (not event.get("thread_ts") or mentions(raw, context.bot_user_id)):
        return
    if not bridge_of(context).first_delivery(event_key(body)):
        return
    try:
        where = SlackThread(context.team_id or event.get("team", ""), event["channel"],
                            event.get("thread_ts") or event["ts"])
        bridge_of(context).on_text(where, clean_text(raw, context.bot_user_id), event["user"],
                                   known_threads_only=channel_type != "im")
    except Exception:
        tell_failure(context, event.get("channel"), event.get("thread_ts") or event.get("ts"), "message")
