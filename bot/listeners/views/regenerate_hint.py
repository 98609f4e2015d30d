from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot import blocks
from bot.listeners.common import bridge_of, log


def regenerate_hint_callback(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The hint modal submitted: an empty ack closes it, then the regeneration goes the way of a click (the
    bridge checks the page and the user; a refusal is told in the run's thread, to that user only)."""
    ack()
    try:
        field = (view.get("state", {}).get("values", {}).get(blocks.HINT_BLOCK_ID) or {}).get(blocks.HINT_ACTION_ID)
        bridge_of(context).on_regenerate_submit(user=body["user"]["id"],
                                                private_metadata=str(view.get("private_metadata") or ""),
                                                hint=str((field or {}).get("value") or ""))
    except Exception:  # no thread to answer in: the submission's metadata is what names it
        log.exception("listener failed", extra={"surface": "modal"})
