"""Serving the app: Socket Mode (default) or HTTP (Events API + interactivity on ``/slack/events``, ``GET /healthz``
and ``GET /metrics``), plus the start-up checks the CLI runs before serving. Socket Mode opens no port unless asked
for a health listener (``GET /healthz``: 200 while the Slack connection is up, else 503, for container health checks;
and ``GET /metrics``). ``/metrics`` is the bot's Prometheus metrics (:mod:`bot.metrics`) in Prometheus' text format
(OpenMetrics if the scraper asks for it)."""

from __future__ import annotations

import dataclasses
import json
import logging
import socketserver
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from autogets.errors import ConfigError
from bot.app import BotApp, create_app, make_client
from bot.lease import serving
from bot.metrics import Metrics
from bot.settings import MANIFEST, BotSettings

log = logging.getLogger("bot.run")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 512 * 1024   # Slack's payloads are a few KiB; anything this large is not from Slack


def check_token(client: WebClient) -> dict[str, Any]:
    """``auth.test`` once at start-up, so a revoked or wrong token is one clear line, not a failing first event."""
    try:
        return client.auth_test().data  # type: ignore[return-value]
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error')}): copy the "
                          f'"Bot User OAuth Token" again from "OAuth & Permissions" (app from {MANIFEST})') from None
    except OSError as exc:
        raise ConfigError(f"cannot reach the Slack API at {client.base_url}: {exc}") from None


def resolve_approvers(client: WebClient, approvers: frozenset[str]) -> frozenset[str]:
    """User-group ids (``S…``) in AUTOGETS_APPROVERS become their members (``usergroups.users.list``)."""
    users = {a for a in approvers if not a.startswith("S")}
    for group in sorted(a for a in approvers if a.startswith("S")):
        try:
            users |= set(client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            raise ConfigError(f"AUTOGETS_APPROVERS: cannot list the members of user group {group} "
                              f"({exc.response.get('error')})") from None
    return frozenset(users)


def prepare(settings: BotSettings) -> tuple[BotSettings, WebClient]:
    client = make_client(settings)
    identity = check_token(client)
    log.info("connected", extra={"team": identity.get("team_id"), "bot_user": identity.get("user_id")})
    if any(a.startswith("S") for a in settings.approvers):
        settings = dataclasses.replace(settings, approvers=resolve_approvers(client, settings.approvers))
    return settings, client


def serve_socket_mode(settings: BotSettings, *, health: tuple[str, int] | None = None,
                      on_ready: Callable[[str], None] | None = None) -> None:
    """Connect to Slack over a WebSocket and serve until stopped. With ``health=(host, port)``, also serve
    ``GET /healthz`` there (``on_ready`` gets its URL; port 0 = a free one): 200 while connected, 503 otherwise.
    Both modes first take the workspace's bot lease (:mod:`bot.lease`): one bot per workspace."""
    with serving(settings.workspace):
        _serve_socket_mode(settings, health=health, on_ready=on_ready)


def _serve_socket_mode(settings: BotSettings, *, health: tuple[str, int] | None,
                       on_ready: Callable[[str], None] | None) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    settings, client = prepare(settings)
    app = create_app(settings, client=client)
    handler = SocketModeHandler(app, settings.app_token)
    server = None
    if health is not None:
        server = make_server(health[0], health[1], health_app(handler.client.is_connected, app.metrics),
                             server_class=_ThreadingWSGIServer, handler_class=_LoggingHandler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="autogets-health",
                         daemon=True).start()
        if on_ready is not None:
            on_ready(f"http://{health[0]}:{server.server_port}{HEALTH_PATH}")
    log.info("socket mode: connecting")
    try:
        handler.start()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        _close(app)


def serve_http(settings: BotSettings, *, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve Slack's requests over HTTP on ``host:port`` until stopped (``on_ready`` gets the URL)."""
    with serving(settings.workspace):
        _serve_http(settings, host=host, port=port, on_ready=on_ready)


def _serve_http(settings: BotSettings, *, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    settings, client = prepare(settings)
    app = create_app(settings, client=client)
    server = http_server(app, host, port)
    on_ready(f"http://{host}:{server.server_port}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        _close(app)


def _close(app: BotApp) -> None:
    app.bridge.jobs.shutdown(wait=False)
    close = getattr(app.bridge.agent, "close", None)
    if callable(close):
        close()


# -- HTTP ----------------------------------------------------------------------------------------------------------

class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _LoggingHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("http", extra={"request": self.requestline[:200], "client": self.client_address[0],
                                "detail": (format % args)[:200]})


def http_server(app: BotApp, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server on ``host:port`` (0 = a free port: read ``server.server_port``)."""
    return make_server(host, port, wsgi_app(app), server_class=_ThreadingWSGIServer, handler_class=_LoggingHandler)


def wsgi_app(app: BotApp, *, path: str = EVENTS_PATH, max_body: int = MAX_BODY):
    """``GET /healthz``, ``GET /metrics`` (the app's), and Slack's requests on ``path`` dispatched to Bolt. Bodies
    over ``max_body`` are refused unread, a malformed length is 400 and a timestamp that is not a number 401 (Slack's
    verifier would raise on it).
    The signature and the timestamp are checked *before* the body is parsed (a bad or stale one is 401, logged as
    one line without the body, and reaches no listener); a signed body Bolt cannot parse (``{oops``, ``[]``,
    ``payload=<bad JSON>``) is 400. Bolt checks the signature again."""
    verifier = SignatureVerifier(app.signing_secret) if app.signing_secret else None

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, route = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if route == HEALTH_PATH and method in ("GET", "HEAD"):
            return _json(start_response, 200, {"ok": True})
        if route == METRICS_PATH and method in ("GET", "HEAD"):
            return _metrics(start_response, app.metrics, environ)
        if route != path:
            return _json(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _json(start_response, 405, {"error": "method not allowed"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _json(start_response, 400, {"error": "bad content length"})
        if length > max_body:
            log.warning("request body too large", extra={"length": length})
            return _json(start_response, 413, {"error": "request too large"})
        try:
            body = environ["wsgi.input"].read(length).decode("utf-8") if length else ""
        except UnicodeDecodeError:
            return _json(start_response, 400, {"error": "body is not UTF-8"})
        headers = {key[5:].lower().replace("_", "-"): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        if not headers.get("x-slack-request-timestamp", "0").isdigit():
            log.warning("request timestamp is not a number")
            return _json(start_response, 401, {"error": "invalid request"})
        if verifier is not None and not verifier.is_valid(body, headers.get("x-slack-request-timestamp", "0"),
                                                          headers.get("x-slack-signature", "")):
            log.warning("request refused: bad or stale signature", extra={"length": length})
            return _json(start_response, 401, {"error": "invalid request"})
        request = bolt_request(body, environ.get("QUERY_STRING", ""), headers)
        if request is None:
            log.warning("request refused: malformed body", extra={"length": length,
                                                                   "content_type": headers["content-type"][:80]})
            return _json(start_response, 400, {"error": "malformed request"})
        response = app.dispatch(request)
        payload = response.body.encode("utf-8") if isinstance(response.body, str) else bytes(response.body)
        header_list = [(k, v) for k, values in response.headers.items() for v in values
                       if k.lower() != "content-length"]
        start_response(_status(response.status), header_list + [("Content-Length", str(len(payload)))])
        return [payload]
    return application


def bolt_request(body: str, query: str, headers: dict[str, str]) -> BoltRequest | None:
    """Bolt's request, or None for a body it cannot parse (not JSON, JSON that is not an object, a ``payload``
    form field that is not a JSON object): Bolt raises on these while building the request."""
    try:
        return BoltRequest(body=body, query=query, headers=headers)
    except (ValueError, AttributeError, TypeError):
        return None


def health_app(ready: Callable[[], bool], metrics: Metrics | None = None):
    """``GET /healthz``: ``{"ok": true}`` (200) when ``ready()``, else ``{"ok": false}`` (503); with ``metrics``,
    ``GET /metrics``; 404 elsewhere."""
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or route not in (HEALTH_PATH, METRICS_PATH) or \
                (route == METRICS_PATH and metrics is None):
            return _json(start_response, 404, {"error": "not found"})
        if route == METRICS_PATH:
            return _metrics(start_response, metrics, environ)
        ok = bool(ready())
        return _json(start_response, 200 if ok else 503, {"ok": ok})
    return application


def _metrics(start_response: Callable[..., Any], metrics: Metrics, environ: dict[str, Any]) -> list[bytes]:
    payload, content_type = metrics.exposition(environ.get("HTTP_ACCEPT"))
    start_response(_status(200), [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _json(start_response: Callable[..., Any], code: int, obj: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(obj).encode()
    start_response(_status(code), [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
