"""Pure helpers of the bot: Slack's text as typed, what a turn means, one clause for a failure (no Slack calls)."""

from __future__ import annotations

import html
import re
from typing import Any

from slack_sdk.errors import SlackApiError

from agent.api import Turn
from bot import blocks
from bot.progress import ProgressMessage

FINAL_STATUSES = frozenset({"done", "no_gain", "failed", "cancelled", "awaiting_promotion"})
QUIET_STATUSES = frozenset({"answer", "refused", "running"})   # turns that do not move a run on

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def clean_text(text: str, bot_user_id: str | None) -> str:
    """Slack's message text as the user typed it: the bot's mention removed, ``&amp; &lt; &gt;`` unescaped."""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return " ".join(html.unescape(text).split())


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and any(m.group(1) == user_id for m in _MENTION.finditer(text or ""))


def settle(progress: ProgressMessage | None) -> None:
    """After the agent returned: its last progress state is sent before the bot posts anything else."""
    if progress is not None:
        progress.flush()


def decision_applied(turn: Turn) -> bool:
    """Whether a ``running`` turn answering a decision means the decision was applied and the run then stopped
    (resumable). The agent refuses before applying anything (thread busy in another process, data set busy) with
    a turn that carries no run state; a turn built from the stored run after the graph ran carries the run's
    requester. An explicit ``turn.data["applied"]`` wins when the agent gives one."""
    if "applied" in turn.data:
        return bool(turn.data["applied"])
    return turn.status == "running" and turn.requester is not None


def describe(exc: Exception) -> str:
    """One clause for the user: Slack's error code, or the exception's class and first line."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error') or 'an error'}"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def is_help(text: str) -> bool:
    return text.strip().lower() in ("", "help", "?")


def rejected_from_state(state_values: dict[str, Any]) -> list[tuple[int, str]]:
    """``(number, key)`` of the samples ticked in the review message's reject checkboxes."""
    picked: list[tuple[int, str]] = []
    for block in (state_values or {}).values():
        for action_id, element in block.items():
            if not action_id.startswith(blocks.REJECTS_ACTION_PREFIX):
                continue
            for option in element.get("selected_options") or []:
                number, _, key = str(option.get("value", "")).partition(":")
                if number.isdigit() and key:
                    picked.append((int(number), key))
    return sorted(set(picked))
