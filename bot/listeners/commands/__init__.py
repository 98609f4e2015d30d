"""The slash command (:data:`bot.surface.COMMAND`)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.autogets import autogets_command_callback
from bot.surface import COMMAND


def register(app: App) -> None:
    app.command(COMMAND)(autogets_command_callback)
