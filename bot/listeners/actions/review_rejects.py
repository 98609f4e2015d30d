from __future__ import annotations

from slack_bolt import Ack


def review_rejects_callback(ack: Ack) -> None:
    """Ticking a reject checkbox only changes the message's state; it is read when a button is clicked."""
    ack()
