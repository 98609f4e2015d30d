"""The bot's health check for containers: ``GET /healthz`` in HTTP mode (tested in test_bot_http.py) and, in Socket
Mode, the ``--health-port`` listener, which answers 200 only while the WebSocket to Slack is up.

The Socket Mode test runs ``autogets bot --health-port 0`` as a subprocess against the fake Slack Web API, whose
``apps.connections.open`` hands out the URL of a local WebSocket server (the ``websockets`` package) standing in for
Slack's Socket Mode endpoint.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest
from prometheus_client.parser import text_string_to_metric_families

from autogets.cli import main
from bot.run import HEALTH_PATH, METRICS_PATH, health_app
from tests.fakes.slack_server import Call, FakeSlack

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-9999-8888-health-token"
APP_TOKEN = "xapp-1-A111-222-health"


def _get(port: int, path: str = HEALTH_PATH, method: str = "GET") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_health_app_reports_the_connection_state():
    state = {"up": False}
    server = make_server("127.0.0.1", 0, health_app(lambda: state["up"]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = server.server_port
        assert _get(port) == (503, '{"ok": false}')
        state["up"] = True
        assert _get(port) == (200, '{"ok": true}')
        assert _get(port, method="HEAD")[0] == 200
        assert _get(port, "/slack/events", "POST")[0] == 404   # nothing of Slack's is served on this port
        assert _get(port, "/")[0] == 404
        assert _get(port, METRICS_PATH)[0] == 404            # no metrics given: none served
    finally:
        server.shutdown()
        server.server_close()


def test_health_port_is_refused_with_http(capsys):
    assert main(["bot", "--http", "--health-port", "3000"]) == 2
    assert "--health-port is for Socket Mode" in capsys.readouterr().err


class _SocketModeSlack(FakeSlack):
    """The fake Web API plus ``apps.connections.open`` (called with the app-level token) → ``socket_url``."""

    socket_url = ""

    def _handle(self, h):
        if h.path.split("?", 1)[0] == "/api/apps.connections.open":
            h.rfile.read(int(h.headers.get("Content-Length") or 0))
            authorized = str(h.headers.get("Authorization", "")).startswith("Bearer xapp-")
            body = {"ok": True, "url": self.socket_url} if authorized else {"ok": False, "error": "not_authed"}
            self._record(Call("apps.connections.open", {}, authorized, body))
            return self._send(h, 200, json.dumps(body).encode(), "application/json; charset=utf-8")
        return super()._handle(h)


def test_socket_mode_health_listener_follows_the_websocket(tmp_path):
    sync_server = pytest.importorskip("websockets.sync.server")
    from websockets.exceptions import ConnectionClosed

    connections: list[object] = []

    def socket_mode_endpoint(ws):
        connections.append(ws)
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            for _ in ws:   # keep the connection open until the client or the server closes it
                pass
        except ConnectionClosed:
            pass

    ws_server = sync_server.serve(socket_mode_endpoint, "127.0.0.1", 0)
    ws_thread = threading.Thread(target=ws_server.serve_forever, daemon=True)
    ws_thread.start()
    slack = _SocketModeSlack()
    slack.socket_url = f"ws://127.0.0.1:{ws_server.socket.getsockname()[1]}/link"
    slack.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN,
           "SLACK_API_URL": slack.api_url, "AUTOGETS_HOME": str(tmp_path / "ws")}
    for name in ("SLACK_SIGNING_SECRET", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_APPROVERS", "AUTOGETS_EXECUTOR"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "autogets", "bot", "--health-port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "health check on http://127.0.0.1:" in line, (line, proc.poll())
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert line.rstrip().endswith(HEALTH_PATH)
        assert _until(lambda: _get(port)[0] == 200), _get(port)
        assert _get(port) == (200, '{"ok": true}')
        status, metrics = _get(port, METRICS_PATH)   # issue 24: the Prometheus metrics on the same listener
        families = {f.name for f in text_string_to_metric_families(metrics)}
        assert status == 200 and {"autogets_runs_started", "autogets_queue_length"} <= families
        assert BOT_TOKEN not in metrics and APP_TOKEN not in metrics
        assert connections and "apps.connections.open" in slack.methods()
        assert slack.calls_to("apps.connections.open")[0].authorized   # asked with the app-level token

        ws_server.shutdown()   # Slack goes away: the listener says so until the bot reconnects
        for ws in connections:
            ws.close()
        assert _until(lambda: _get(port)[0] == 503), _get(port)
        assert proc.poll() is None   # the bot itself keeps running (and retrying)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        slack.stop()
        ws_server.shutdown()
