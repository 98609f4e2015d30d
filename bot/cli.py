"""`autogets bot`: the Slack bot (Socket Mode by default, HTTP with --http)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from autogets.cli.common import WorkspaceOpt, out


def bot(http: Annotated[bool, typer.Option("--http", help="Serve Slack's Events API over HTTP (needs "
                                           "SLACK_SIGNING_SECRET) instead of Socket Mode.")] = False,
        port: Annotated[int, typer.Option("--port", help="HTTP port (0 = pick a free one and print it).",
                                          min=0, max=65535)] = 3000,
        host: Annotated[str, typer.Option("--host", help="HTTP address to listen on (also the health "
                                          "listener's).")] = "127.0.0.1",
        health_port: Annotated[int | None, typer.Option("--health-port", min=0, max=65535,
                                                        help="Socket Mode: also serve GET /healthz on this port "
                                                        "(200 while connected to Slack, else 503; 0 = a free "
                                                        "one) and GET /metrics (Prometheus). With --http, both "
                                                        "are on --port.")] = None,
        workspace: WorkspaceOpt = None) -> None:
    """Run the Slack bot. Socket Mode needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…); --http needs
    SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and serves POST /slack/events, GET /healthz and GET /metrics.

    Example: autogets bot   (or: autogets bot --http --port 3000; in a container: autogets bot --health-port 3000)
    """
    from bot import logs
    from bot.run import serve_http, serve_socket_mode
    from bot.settings import BotSettings

    if http and health_port is not None:
        raise typer.BadParameter("--health-port is for Socket Mode; with --http, GET /healthz is served on --port")
    settings = BotSettings.from_env(http=http, workspace=workspace)
    logs.configure()

    def say(line: str) -> None:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.stdout.flush()

    if not http:
        serve_socket_mode(settings, health=None if health_port is None else (host, health_port),
                          on_ready=lambda url: say(f"autogets bot: health check on {url}"))
        return
    serve_http(settings, host=host, port=port,
               on_ready=lambda url: say(f"autogets bot: listening on {url} (Slack request URL: <public "
                                        "URL>/slack/events)"))
