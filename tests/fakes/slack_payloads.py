"""Realistic Slack request payloads (Events API, interactivity, slash commands), signed like Slack signs them.

Shapes follow Slack's documentation and bolt-python's own scenario tests: ``event_callback`` JSON bodies,
``block_actions`` as a form field ``payload=<json>`` with the message's ``state.values``, slash commands as a form.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import quote, urlencode

from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_server import BOT_USER, TEAM

SECRET = "8f742231b10e8888abcd99a1b2c3d4e5"
_EVENT_IDS = itertools.count(1)
_TRIGGER_IDS = itertools.count(111)


def signed_headers(body: str, secret: str = SECRET, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"content-type": content_type, "x-slack-request-timestamp": ts,
            "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}


def request(body: str, content_type: str, secret: str = SECRET) -> BoltRequest:
    headers = signed_headers(body, secret, content_type=content_type)
    return BoltRequest(body=body, headers={k: [v] for k, v in headers.items()})


def event_body(event: dict[str, Any]) -> str:
    return json.dumps({"token": "legacy-verification-token", "team_id": TEAM, "api_app_id": "A1",
                       "event": event, "type": "event_callback", "event_id": f"Ev{next(_EVENT_IDS):06d}",
                       "event_time": int(time.time()),
                       "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER,
                                           "is_bot": True, "is_enterprise_install": False}]})


def app_mention(text: str, *, user: str = "U1", channel: str = "C1", ts: str = "1699999999.000100",
                thread_ts: str | None = None) -> str:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": channel,
             "event_ts": ts, "team": TEAM}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_body(event)


def message(text: str, *, user: str = "U1", channel: str = "D1", channel_type: str = "im",
            ts: str = "1699999998.000100", thread_ts: str | None = None, **extra: Any) -> str:
    event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
             "channel_type": channel_type, "event_ts": ts, "team": TEAM, **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_body(event)


def app_home_opened(user: str = "U1") -> str:
    return event_body({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home",
                       "event_ts": "1699999997.000100"})


def url_verification(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> str:
    return json.dumps({"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"})


def slash_command(text: str, *, user: str = "U1", channel: str = "C1", response_url: str = "",
                  trigger_id: str | None = None) -> str:
    """A slash command form; each gets its own ``trigger_id`` as from Slack (``trigger_id=""`` leaves it out)."""
    form = {"token": "legacy-verification-token", "team_id": TEAM, "team_domain": "fake",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": "someone",
            "command": "/autogets", "text": text, "api_app_id": "A1", "response_url": response_url,
            "trigger_id": f"{next(_TRIGGER_IDS)}.222.xxx" if trigger_id is None else trigger_id}
    return urlencode({k: v for k, v in form.items() if k != "trigger_id" or v})


def block_actions(*, user: str, channel: str, message: dict[str, Any], action_id: str,
                  ticked: tuple[int, ...] = (), trigger_id: str | None = None) -> str:
    """A click on the button ``action_id`` of ``message`` (``{"ts", "thread_ts", "blocks"}``), with the reject
    checkboxes of the samples numbered in ``ticked`` selected in ``state.values``; each click gets its own
    ``trigger_id`` as from Slack (or ``trigger_id``)."""
    action = _find_element(message["blocks"], action_id)
    values: dict[str, dict[str, Any]] = {}
    for block in message["blocks"]:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "checkboxes":
                chosen = [o for o in element["options"] if int(o["value"].split(":", 1)[0]) in ticked]
                values.setdefault(block["block_id"], {})[element["action_id"]] = {
                    "type": "checkboxes", "selected_options": chosen}
    payload = {
        "type": "block_actions", "user": {"id": user, "username": user.lower(), "name": user.lower(),
                                          "team_id": TEAM},
        "api_app_id": "A1", "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel, "is_ephemeral": False,
                      "thread_ts": message.get("thread_ts")},
        "trigger_id": trigger_id or f"{next(_TRIGGER_IDS)}.222.click", "team": {"id": TEAM, "domain": "fake"},
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "user": BOT_USER, "bot_id": "BBOT", "ts": message["ts"],
                    "thread_ts": message.get("thread_ts"), "text": "", "blocks": message["blocks"]},
        "state": {"values": values},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [{"action_id": action["action_id"], "block_id": action["_block_id"],
                     "text": action["text"], "value": action.get("value", ""), "type": "button",
                     "action_ts": str(time.time())}],
    }
    return f"payload={quote(json.dumps(payload))}"


def view_submission(*, user: str, view: dict[str, Any], values: dict[str, dict[str, str | None]]) -> str:
    """The submit of a modal the bot opened (``view``: as ``views.open`` answered it), with the text typed into
    its inputs: ``values`` maps block id → action id → text (None: left empty)."""
    state = {block: {action: {"type": "plain_text_input", "value": text} for action, text in fields.items()}
             for block, fields in values.items()}
    payload = {
        "type": "view_submission", "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A1", "token": "legacy-verification-token", "trigger_id": f"{next(_TRIGGER_IDS)}.222.submit",
        "view": {**view, "state": {"values": state}, "team_id": TEAM, "app_id": "A1", "bot_id": "BBOT"},
        "response_urls": [], "is_enterprise_install": False,
    }
    return f"payload={quote(json.dumps(payload))}"


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return {**element, "_block_id": block.get("block_id", "")}
    raise AssertionError(f"no element {action_id!r} in the message")
