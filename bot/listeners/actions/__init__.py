"""Buttons and checkboxes of the review pages and of the report."""

from __future__ import annotations

import re

from slack_bolt import App

from bot import blocks
from bot.listeners.actions.discard import discard_callback
from bot.listeners.actions.promote import promote_callback
from bot.listeners.actions.review_button import review_button_callback
from bot.listeners.actions.review_rejects import review_rejects_callback


def register(app: App) -> None:
    app.action(re.compile("^" + re.escape(blocks.REVIEW_ACTION_PREFIX)))(review_button_callback)
    app.action(re.compile("^" + re.escape(blocks.REJECTS_ACTION_PREFIX)))(review_rejects_callback)
    app.action(blocks.PROMOTE_ACTION)(promote_callback)
    app.action(blocks.DISCARD_ACTION)(discard_callback)
