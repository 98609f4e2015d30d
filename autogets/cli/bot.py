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
        host: Annotated[str, typer.Option("--host", help="HTTP address to listen on.")] = "127.0.0.1",
        workspace: WorkspaceOpt = None) -> None:
    """Run the Slack bot. Socket Mode needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…); --http needs
    SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and serves POST /slack/events and GET /healthz.

    Example: autogets bot   (or: autogets bot --http --port 3000)
    """
    from bot import logs
    from bot.run import serve_http, serve_socket_mode
    from bot.settings import BotSettings

    settings = BotSettings.from_env(http=http, workspace=workspace)
    logs.configure()
    if not http:
        serve_socket_mode(settings)
        return

    def ready(url: str) -> None:
        out.print(f"autogets bot: listening on {url} (Slack request URL: <public URL>/slack/events)",
                  markup=False, highlight=False, soft_wrap=True)
        sys.stdout.flush()

    serve_http(settings, host=host, port=port, on_ready=ready)
