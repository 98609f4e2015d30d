"""The Slack bot: translates Slack to the agent (``agent.service.Agent``) and back; no method logic here.

Entry point: ``autogets bot`` (:mod:`bot.cli`, an ``autogets.commands`` entry point); the app:
:func:`bot.app.create_app`.
"""
