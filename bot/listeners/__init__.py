"""Bolt listeners, one subpackage per Slack surface, each with ``register(app)``; one callback per file.

Every callback acks first (Slack waits 3 seconds at most), reads what it needs from the payload and hands over to
the :class:`bot.bridge.Bridge` found in the Bolt context (put there by a middleware in :func:`bot.app.create_app`),
which runs the work in the job runner. A payload the callback cannot read is logged and answered in its thread.
"""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, commands, events, views


def register_listeners(app: App) -> None:
    events.register(app)
    commands.register(app)
    actions.register(app)
    views.register(app)
