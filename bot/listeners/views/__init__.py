"""Modal submissions: the hint modal that "Regenerate" on a review page opens (:func:`bot.blocks.regenerate_modal`)."""

from __future__ import annotations

from slack_bolt import App

from bot import blocks
from bot.listeners.views.regenerate_hint import regenerate_hint_callback


def register(app: App) -> None:
    app.view(blocks.REGENERATE_VIEW)(regenerate_hint_callback)
