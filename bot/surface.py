"""What the bot asks of Slack, in one place: the events it subscribes to, its slash command, the Web API methods it
calls and the scopes these need. The listeners register from these constants, and a test checks that
``deploy/slack-manifest.yaml`` asks for exactly this (and that ``bot/`` calls no other Web API method).
"""

from __future__ import annotations

COMMAND = "/autogets"

# Manifest subscription name → (Bolt event type, channel type or None, scope it needs or None).
BOT_EVENTS: dict[str, tuple[str, str | None, str | None]] = {
    "app_mention": ("app_mention", None, "app_mentions:read"),
    "app_home_opened": ("app_home_opened", None, None),
    "message.im": ("message", "im", "im:history"),
    "message.channels": ("message", "channel", "channels:history"),
    "message.groups": ("message", "group", "groups:history"),
}

# Web API method → the bot scope it needs (None: no scope). ``files.upload_v2`` is the two "external" methods.
WEB_API_METHODS: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "views.publish": None,
    "views.open": None,       # the hint modal of "Regenerate" (interactivity, no scope)
    "usergroups.users.list": "usergroups:read",
}

COMMAND_SCOPE = "commands"


def bot_scopes() -> set[str]:
    """Every bot scope the code needs: from its events, its slash command and the Web API methods it calls."""
    scopes = {scope for _, _, scope in BOT_EVENTS.values() if scope}
    scopes |= {scope for scope in WEB_API_METHODS.values() if scope}
    return scopes | {COMMAND_SCOPE}


def message_channel_types() -> set[str]:
    """Channel types whose ``message`` events the bot subscribes to (``im``, ``channel``, ``group``)."""
    return {channel_type for event, channel_type, _ in BOT_EVENTS.values() if event == "message" and channel_type}
