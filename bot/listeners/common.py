"""What every callback needs: the bridge from the Bolt context, and a safe way to tell a user a payload failed."""

from __future__ import annotations

import logging

from slack_bolt import BoltContext

from bot.bridge import Bridge

CONTEXT_KEY = "autogets_bridge"

log = logging.getLogger("bot.listeners")


def bridge_of(context: BoltContext) -> Bridge:
    return context[CONTEXT_KEY]


def tell_failure(context: BoltContext, channel: str | None, thread_ts: str | None, what: str) -> None:
    """A callback could not read its payload: log it and say so in the thread (one sentence), if we know where."""
    log.exception("listener failed", extra={"surface": what, "channel": channel})
    if not channel:
        return
    try:
        context.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                        text=f"Sorry, I could not handle that {what}.")
    except Exception:
        log.exception("could not tell the user", extra={"channel": channel})
