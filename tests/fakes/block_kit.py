"""An independent checker of Slack's Block Kit limits and of escaping, for every payload the bot sends.

Written from Slack's reference (docs.slack.dev/reference/block-kit), not from ``bot.blocks``, so a wrong constant
there does not hide a wrong payload here. :func:`problems` returns human-readable violations (empty = fine): our
own reading of the limits, ``slack_sdk.models``' validation of every block and view, and two rules of ours for
untrusted text: every ``mrkdwn`` object sets ``verbatim: true`` (no auto-linked URL, channel or mention) and no bare
``@here`` / ``@channel`` / ``@everyone`` appears. :func:`block_text_length` counts a message's block text the way
the fake Slack enforces ``MESSAGE_BLOCK_TEXT`` (``msg_blocks_too_long``; real Slack refuses at 11–13k characters
in practice, slackapi/bolt-js #2509, #2867).
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

LIMITS = {
    "message_blocks": 50, "view_blocks": 100, "text": 3000, "header": 150, "button_text": 75, "button_value": 2000,
    "action_id": 255, "block_id": 255, "actions_elements": 25, "context_elements": 10, "section_fields": 10,
    "field_text": 2000, "checkbox_options": 10, "option_text": 75, "option_value": 150, "fallback_text": 40000,
    "confirm_title": 100, "confirm_text": 300, "confirm_button": 30,
    "view_title": 24, "view_button": 24, "private_metadata": 3000, "callback_id": 255, "input_label": 2000,
    "input_hint": 2000, "placeholder": 150, "input_max_length": 3000,
}
MESSAGE_BLOCK_TEXT = 10_000   # characters of text objects in one message's blocks (our budget, below Slack's)
_BARE_MENTION = re.compile(r"(?<![\w＠])@(here|channel|everyone)\b", re.IGNORECASE)
# What may appear inside <…> in text the bot sends: a user mention of a Slack id, or a link to a Slack permalink.
_ALLOWED_ANGLE = re.compile(r"^<(@[UW][A-Z0-9]+|https://[a-z.]*slack\.com/[^|>\s]+\|[^<>]*)>$")
_ANGLE = re.compile(r"<[^<>]*>")


def problems(payload: dict[str, Any], *, surface: str = "message") -> list[str]:
    """Violations in a ``chat.postMessage``/``chat.update``/``chat.postEphemeral`` body or a view."""
    found: list[str] = []
    blocks = payload.get("blocks") or []
    limit = LIMITS["message_blocks"] if surface == "message" else LIMITS["view_blocks"]
    if len(blocks) > limit:
        found.append(f"{len(blocks)} blocks > {limit}")
    if len(str(payload.get("text") or "")) > LIMITS["fallback_text"]:
        found.append("fallback text too long")
    if "text" in payload and not str(payload.get("text") or "").strip():
        found.append("empty fallback text")
    if surface == "message" and block_text_length(blocks) > MESSAGE_BLOCK_TEXT:
        found.append(f"{block_text_length(blocks)} characters of block text > {MESSAGE_BLOCK_TEXT}")
    if surface == "view":
        found += _view(payload)
    found += sdk_problems(payload, surface=surface)
    found += _escaping("text", str(payload.get("text") or ""))
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        found.append(f"duplicate block_id in {block_ids}")
    for i, block in enumerate(blocks):
        found += [f"block {i} ({block.get('type')}): {p}" for p in _block(block)]
    return found


def block_text_length(blocks: Any) -> int:
    """Characters of every text object (``plain_text`` / ``mrkdwn``) anywhere in ``blocks``."""
    if isinstance(blocks, list):
        return sum(block_text_length(b) for b in blocks)
    if not isinstance(blocks, dict):
        return 0
    own = len(str(blocks.get("text"))) if blocks.get("type") in ("plain_text", "mrkdwn") else 0
    return own + sum(block_text_length(v) for k, v in blocks.items() if isinstance(v, (dict, list)))


def sdk_problems(payload: dict[str, Any], *, surface: str = "message") -> list[str]:
    """What ``slack_sdk.models`` refuses in the payload's blocks (or view): its own copy of Slack's limits."""
    try:
        if surface == "message":
            for block in Block.parse_all(payload.get("blocks") or []):
                block.to_dict()
        else:
            View(**payload).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError) as exc:
        return [f"slack_sdk.models: {exc}"]
    return []


def _block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    found: list[str] = []
    if len(block.get("block_id", "")) > LIMITS["block_id"]:
        found.append("block_id too long")
    if kind == "section":
        if "text" not in block and "fields" not in block:
            found.append("section without text or fields")
        if "text" in block:
            found += _text(block["text"], LIMITS["text"])
        fields = block.get("fields") or []
        if len(fields) > LIMITS["section_fields"]:
            found.append(f"{len(fields)} fields > {LIMITS['section_fields']}")
        for f in fields:
            found += _text(f, LIMITS["field_text"])
    elif kind == "header":
        found += _text(block.get("text", {}), LIMITS["header"], plain_only=True)
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > LIMITS["context_elements"]:
            found.append(f"{len(elements)} context elements")
        for e in elements:
            found += _text(e, LIMITS["text"])
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > LIMITS["actions_elements"]:
            found.append(f"{len(elements)} action elements")
        ids = [e.get("action_id") for e in elements]
        if len(ids) != len(set(ids)):
            found.append(f"duplicate action_id in one block: {ids}")
        for e in elements:
            found += _element(e)
    elif kind == "input":
        found += _text(block.get("label", {}), LIMITS["input_label"], plain_only=True)
        if "hint" in block:
            found += _text(block["hint"], LIMITS["input_hint"], plain_only=True)
        found += _input(block.get("element") or {})
    elif kind != "divider":
        found.append(f"unexpected block type {kind!r}")
    return found


def _view(view: dict[str, Any]) -> list[str]:
    """A modal's own fields (a Home tab has none of them): title, submit and close texts, callback id, metadata."""
    if view.get("type") != "modal":
        return []
    found = _text(view.get("title", {}), LIMITS["view_title"], plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            found += _text(view[key], LIMITS["view_button"], plain_only=True)
    if any(b.get("type") == "input" for b in view.get("blocks") or []) and "submit" not in view:
        found.append("a modal with an input block needs a submit button")
    if len(str(view.get("callback_id", ""))) > LIMITS["callback_id"]:
        found.append("callback_id too long")
    if len(str(view.get("private_metadata", ""))) > LIMITS["private_metadata"]:
        found.append(f"private_metadata over {LIMITS['private_metadata']} characters")
    return found


def _input(element: dict[str, Any]) -> list[str]:
    if element.get("type") != "plain_text_input":
        return [f"unexpected input element {element.get('type')!r}"]
    found = []
    if not element.get("action_id") or len(element["action_id"]) > LIMITS["action_id"]:
        found.append("input without a valid action_id")
    if "placeholder" in element:
        found += _text(element["placeholder"], LIMITS["placeholder"], plain_only=True)
    maximum = element.get("max_length")
    if maximum is not None and not (isinstance(maximum, int) and 1 <= maximum <= LIMITS["input_max_length"]):
        found.append(f"max_length {maximum!r} out of 1..{LIMITS['input_max_length']}")
    return found


def _element(element: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if len(element.get("action_id", "")) > LIMITS["action_id"]:
        found.append("action_id too long")
    if element.get("type") == "button":
        found += _text(element.get("text", {}), LIMITS["button_text"], plain_only=True)
        if len(element.get("value", "")) > LIMITS["button_value"]:
            found.append("button value too long")
        if element.get("style") not in (None, "primary", "danger"):
            found.append(f"bad button style {element.get('style')!r}")
        confirm = element.get("confirm")
        if confirm:
            found += _text(confirm["title"], LIMITS["confirm_title"], plain_only=True)
            found += _text(confirm["text"], LIMITS["confirm_text"])
            found += _text(confirm["confirm"], LIMITS["confirm_button"], plain_only=True)
            found += _text(confirm["deny"], LIMITS["confirm_button"], plain_only=True)
    elif element.get("type") == "checkboxes":
        options = element.get("options") or []
        if not options or len(options) > LIMITS["checkbox_options"]:
            found.append(f"{len(options)} checkbox options (1..{LIMITS['checkbox_options']})")
        for o in options:
            found += _text(o.get("text", {}), LIMITS["option_text"])
            if len(o.get("value", "")) > LIMITS["option_value"]:
                found.append("option value too long")
    else:
        found.append(f"unexpected element {element.get('type')!r}")
    return found


def _text(obj: dict[str, Any], limit: int, *, plain_only: bool = False) -> list[str]:
    found: list[str] = []
    if obj.get("type") not in (("plain_text",) if plain_only else ("plain_text", "mrkdwn")):
        found.append(f"text type {obj.get('type')!r}")
    if obj.get("type") == "mrkdwn" and obj.get("verbatim") is not True:
        found.append("mrkdwn text without verbatim: true (Slack would auto-link URLs and parse mentions)")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return found + ["empty text"]
    if len(text) > limit:
        found.append(f"text of {len(text)} characters > {limit}")
    return found + _escaping(obj.get("type", ""), text)


def _escaping(kind: str, text: str) -> list[str]:
    """Every ``<``/``>`` must be an entity unless it forms an allowed token; every ``&`` must start an entity; no
    bare ``@here`` / ``@channel`` / ``@everyone``."""
    found = [f"bare mention {m.group(0)!r} in {kind} text" for m in _BARE_MENTION.finditer(text)]
    found += [f"unescaped token {m.group(0)!r}" for m in _ANGLE.finditer(text) if not _ALLOWED_ANGLE.match(m.group(0))]
    stripped = _ANGLE.sub("", text)
    if "<" in stripped or ">" in stripped:
        found.append(f"stray angle bracket in {kind} text {text[:80]!r}")
    if re.search(r"&(?!amp;|lt;|gt;)", text):
        found.append(f"unescaped & in {kind} text {text[:80]!r}")
    return found
