"""`autogets bot`: the HTTP mode as a real subprocess with the real agent (signed requests, /healthz), and
start-up errors."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autogets.cli import main
from tests.fakes import slack_payloads as payloads
from tests.fakes.slack_server import fake_slack

pytestmark = pytest.mark.reliability  # issue 16: Slack request security in HTTP mode, tokens out of logs

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-9999-8888-subprocess-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``autogets bot --http --port 0`` (the real agent), talking to the fake Slack Web API."""
    with fake_slack() as slack:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN,
               "SLACK_SIGNING_SECRET": payloads.SECRET, "SLACK_API_URL": slack.api_url,
               "AUTOGETS_HOME": str(tmp_path_factory.mktemp("ws")), "AUTOGETS_NOTIFY_CHANNEL": "CNOTIFY"}
        for name in ("SLACK_APP_TOKEN", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_APPROVERS"):
            env.pop(name, None)
        proc = subprocess.Popen([sys.executable, "-m", "autogets", "bot", "--http", "--port", "0"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert "listening on http://127.0.0.1:" in line, (line, proc.poll())
            port = int(line.split("http://127.0.0.1:")[1].split()[0])
            yield slack, port, proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdout.close()
            proc.stderr.close()


def _request(port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body.encode(), headers=headers or {})
    response = conn.getresponse()
    data = response.read().decode()
    conn.close()
    return response.status, data


def _settled(slack, seconds: float = 0.5) -> list[str]:
    time.sleep(seconds)
    return slack.methods()


def test_healthz(served):
    _, port, _ = served
    assert _request(port, "GET", "/healthz") == (200, '{"ok": true}')


def test_url_verification_challenge_is_answered(served):
    _, port, _ = served
    body = payloads.url_verification("c-123")
    status, data = _request(port, "POST", "/slack/events", body, payloads.signed_headers(body))
    assert status == 200 and json.loads(data) == {"challenge": "c-123"}


def test_a_signed_mention_is_dispatched(served):
    slack, port, _ = served
    body = payloads.app_mention("help", ts="1699999999.000900")
    status, _ = _request(port, "POST", "/slack/events", body, payloads.signed_headers(body))
    assert status == 200
    answer = slack.wait_for("chat.postMessage")[-1].args
    assert answer["thread_ts"] == "1699999999.000900"
    assert "Commands" in str(answer["blocks"]) and "/autogets" in str(answer["blocks"])   # the agent's help


@pytest.mark.parametrize("case", ["bad signature", "stale timestamp", "missing headers", "oversized body"])
def test_rejected_requests_reach_no_listener(served, case):
    slack, port, _ = served
    before = _settled(slack, 0)
    body = payloads.app_mention("improve ABBR on trec6", ts="1699999999.000800")
    headers = payloads.signed_headers(body)
    if case == "bad signature":
        headers = payloads.signed_headers(body, secret="0" * 32)
    elif case == "stale timestamp":
        headers = payloads.signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    elif case == "missing headers":
        headers = {"content-type": "application/json"}
    if case == "oversized body":
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/slack/events")
        for key, value in {**headers, "Content-Length": str(10 * 1024 * 1024)}.items():
            conn.putheader(key, value)
        conn.endheaders()                        # the body is never sent: the server must not wait for it
        response = conn.getresponse()
        status = response.status
        conn.close()
        assert status == 413
    else:
        assert _request(port, "POST", "/slack/events", body, headers)[0] == 401
    assert _settled(slack) == before


def test_other_routes(served):
    _, port, _ = served
    assert _request(port, "GET", "/slack/events")[0] == 405
    assert _request(port, "GET", "/nope")[0] == 404


def test_the_token_never_reaches_the_logs(served):
    slack, port, proc = served
    body = payloads.app_mention("improve ABBR on trec6", ts="1699999999.000700")
    _request(port, "POST", "/slack/events", body, payloads.signed_headers(body, secret="1" * 32))
    proc.terminate()
    proc.wait(timeout=10)
    log = proc.stderr.read()
    assert "http" in log and BOT_TOKEN not in log and payloads.SECRET not in log


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize(("env", "args", "message"), [
    ({"SLACK_BOT_TOKEN": BOT_TOKEN}, [], 'SLACK_APP_TOKEN is not set: use an app-level token with the '
                                         'connections:write scope, made under "Basic Information → App-Level Tokens"'),
    ({"SLACK_BOT_TOKEN": "nope"}, [], "SLACK_BOT_TOKEN is malformed (it must start with xoxb-)"),
    ({"SLACK_BOT_TOKEN": BOT_TOKEN}, ["--http"], "SLACK_SIGNING_SECRET is not set"),
])
def test_missing_or_malformed_settings_exit_2_with_one_line(monkeypatch, capsys, env, args, message):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["bot", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and BOT_TOKEN not in err


def test_a_token_slack_refuses_exits_2(monkeypatch, capsys, tmp_path, restore_logging):
    with fake_slack() as slack:
        slack.fail("auth.test", "invalid_auth")
        for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": payloads.SECRET,
                            "SLACK_API_URL": slack.api_url, "AUTOGETS_HOME": str(tmp_path)}.items():
            monkeypatch.setenv(name, value)
        assert main(["bot", "--http", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)" in err and BOT_TOKEN not in err
