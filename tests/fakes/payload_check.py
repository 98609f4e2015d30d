"""Every Block Kit payload a fake Slack received, checked (issue 22, "must show" 3).

:func:`payload_problems` takes the calls a :class:`tests.fakes.slack_server.FakeSlack` recorded and checks each
message body (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, a ``response_url`` POST with blocks)
and each view (``views.publish``, ``views.open``) with :func:`tests.fakes.block_kit.problems` (our reading of
Slack's limits, ``slack_sdk.models`` validation, escaping and verbatim rules), and each message against the bot's
own block-text budget (:data:`bot.blocks.MESSAGE_BUDGET`, counted by :func:`bot.blocks.block_text_length`). Used
by the end-to-end flows (the load run, the real agent with hostile texts and a 1,000-sample review round).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.fakes.block_kit import problems

MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


def checked_payloads(calls: Iterable[Any]) -> list[tuple[str, dict[str, Any], str]]:
    """``(method, payload, surface)`` of every Block Kit payload in ``calls`` (``surface``: message or view)."""
    found = []
    for call in calls:
        if call.method in MESSAGE_METHODS or (call.method == "response_url" and "blocks" in call.args):
            found.append((call.method, call.args, "message"))
        elif call.method in ("views.publish", "views.open"):
            found.append((call.method, call.args.get("view") or {}, "view"))
    return found


def payload_problems(calls: Iterable[Any]) -> list[str]:
    """One line per violation, naming the method and the call's position; empty when every payload is valid."""
    from bot.blocks import MESSAGE_BUDGET, block_text_length

    found: list[str] = []
    for index, (method, payload, surface) in enumerate(checked_payloads(calls)):
        where = f"payload {index} ({method})"
        found += [f"{where}: {p}" for p in problems(payload, surface=surface)]
        if surface == "message" and block_text_length(payload.get("blocks") or []) > MESSAGE_BUDGET:
            found.append(f"{where}: {block_text_length(payload['blocks'])} characters of block text > "
                         f"bot.blocks.MESSAGE_BUDGET {MESSAGE_BUDGET}")
    return found
