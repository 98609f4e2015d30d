"""The Bolt app: ``create_app(settings, client=None, agent=None)``. No network at import or construction.

Bolt would call ``auth.test`` while constructing an app with a token; ``token_verification_enabled=False`` defers
that to the first request (Bolt's ``SingleTeamAuthorization`` calls it then, once). The CLI checks the token itself
before serving (:func:`bot.run.check_token`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from agent.context import AgentContext
from bot.admission import parser_for
from bot.bridge import AgentLike, Bridge
from bot.jobs import JobRunner
from bot.listeners import register_listeners
from bot.listeners.common import CONTEXT_KEY
from bot.metrics import MeteredRateLimitRetryHandler, MeteredWebClient, Metrics
from bot.notify import SlackNotifier
from bot.restart import readmit_queued, tell_interrupted
from bot.settings import BotSettings
from bot.threads import ThreadStore


class BotApp(App):
    """A Bolt app that knows its bridge (tests and the HTTP server wait on ``app.bridge.jobs``)."""

    def __init__(self, *, bridge: Bridge, metrics: Metrics, **kwargs: Any):
        super().__init__(**kwargs)
        self.bridge = bridge
        self.metrics = metrics   # served at GET /metrics (bot.run)
        self.signing_secret: str = kwargs.get("signing_secret") or ""   # the HTTP server checks it before parsing


def create_app(settings: BotSettings, client: WebClient | None = None, agent: AgentLike | None = None, *,
               metrics: Metrics | None = None) -> BotApp:
    """``metrics``: default, the client's (:func:`make_client` makes one with it), so the app, the notifier and
    the client count into one registry."""
    client = client or make_client(settings)
    metrics = metrics or getattr(client, "metrics", None) or Metrics()
    jobs = JobRunner(runs_per_dataset=settings.runs_per_dataset, queue_limit=settings.queue_limit)
    metrics.watch_queue(jobs)
    agent = agent or build_agent(settings, client)
    bridge = Bridge(agent=agent, client=client, parse=parser_for(agent_context(agent, settings)),
                    threads=ThreadStore(settings.workspace), jobs=jobs, approvers=settings.approvers,
                    workspace=settings.workspace, progress_seconds=settings.progress_seconds, metrics=metrics)
    tell_interrupted(bridge, bridge.restore())
    readmit_queued(bridge)
    app = BotApp(bridge=bridge, metrics=metrics, name="autogets", client=client, token_verification_enabled=False,
                 signing_secret=settings.signing_secret or "",
                 request_verification_enabled=bool(settings.signing_secret),
                 listener_executor=jobs.listener_executor)

    def attach_bridge(context: BoltContext, next_) -> None:
        context[CONTEXT_KEY] = bridge
        next_()

    app.use(attach_bridge)
    register_listeners(app)
    return app


def make_client(settings: BotSettings, metrics: Metrics | None = None) -> MeteredWebClient:
    """The Web API client: ``SLACK_API_URL``, and up to 3 retries when Slack says ``ratelimited`` (honouring its
    ``Retry-After``; chat.update is rate-limited per channel). It carries the process's :class:`Metrics` (a new one
    unless given): failed calls and rate-limit retries are counted there."""
    client = MeteredWebClient(token=settings.bot_token, base_url=settings.api_url, metrics=metrics)
    client.retry_handlers.append(MeteredRateLimitRetryHandler(client.metrics, max_retry_count=3))
    return client


def agent_context(agent: AgentLike, settings: BotSettings) -> AgentContext:
    """The agent's own context (:class:`agent.service.Agent` keeps it as ``ctx``), so the bot reads requests with
    the agent's catalog and LLM; an agent without one (a test double): the context the settings give."""
    context = getattr(agent, "ctx", None)
    return context if isinstance(context, AgentContext) else AgentContext.from_settings(settings.core)


def build_agent(settings: BotSettings, client: WebClient) -> AgentLike:
    """The agent (:class:`agent.service.Agent`), notifying the team through Slack, with the approvers the bot
    resolved (user groups expanded by :func:`bot.run.prepare`)."""
    from agent.context import AgentContext
    from agent.service import Agent

    overrides: dict[str, Any] = {"notifier": SlackNotifier.from_settings(client, settings),
                                 "runs_per_dataset": settings.runs_per_dataset}
    if not any(a.startswith("S") for a in settings.approvers):
        overrides["approvers"] = settings.approvers
    return Agent(AgentContext.from_settings(settings.core, **overrides))
