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
    log_path = tmp_path_factory.mktemp("log") / "bot.log"
    with fake_slack() as slack, log_path.open("w") as log_file:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN,
               "SLACK_SIGNING_SECRET": payloads.SECRET, "SLACK_API_URL": slack.api_url,
               "AUTOGETS_HOME": str(tmp_path_factory.mktemp("ws")), "AUTOGETS_NOTIFY_CHANNEL": "CNOTIFY"}
        for name in ("SLACK_APP_TOKEN", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_APPROVERS"):
            env.pop(name, None)
        proc = subprocess.Popen([sys.executable, "-m", "autogets", "bot", "--http", "--port", "0"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
        try:
            line = proc.stdout.readline()
            assert "listening on http://127.0.0.1:" in line, (line, proc.poll())
            port = int(line.split("http://127.0.0.1:")[1].split()[0])
            proc.log_path = log_path   # stderr goes to a file: a huge log line cannot block the server on a pipe
            yield slack, port, proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdout.close()


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


def _metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and s.labels == labels)


def test_metrics_beside_slack_requests_count_a_failed_web_api_call(served):
    """Issue 24 item 3, in the real process (the real agent): GET /metrics on the port Slack posts to, in
    Prometheus' text format; a call Slack refuses is counted by method and error code; no token in it."""
    slack, port, _ = served
    status, before = _request(port, "GET", "/metrics")
    assert status == 200 and "# TYPE autogets_runs_started_total counter" in before
    slack.fail("views.publish", "not_enabled")
    published = len(slack.calls_to("views.publish"))
    body = payloads.app_home_opened()
    assert _request(port, "POST", "/slack/events", body, payloads.signed_headers(body))[0] == 200
    slack.wait_for("views.publish", published + 1)   # the Home tab, refused (logged as one warning)
    name, labels = "autogets_slack_api_errors_total", {"method": "views.publish", "error": "not_enabled"}
    for _ in range(50):   # the client counts the refusal right after Slack's answer
        status, after = _request(port, "GET", "/metrics")
        if _metric(after, name, **labels) > _metric(before, name, **labels):
            break
        time.sleep(0.1)
    assert status == 200 and _metric(after, name, **labels) == _metric(before, name, **labels) + 1
    assert BOT_TOKEN not in after and payloads.SECRET not in after and "U1" not in after


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


@pytest.mark.parametrize(("body", "content_type"), [
    ("{oops", "application/json"), ("[]", "application/json"), ('"x"', "application/json"),
    ("payload=%7Boops", "application/x-www-form-urlencoded"), ("payload=%5B%5D", "application/x-www-form-urlencoded"),
])
@pytest.mark.parametrize("signed", [True, False])
def test_a_malformed_body_is_400_when_signed_401_when_not_and_never_a_traceback(served, body, content_type, signed):
    """Issue 22 item 15: the body was parsed (and failed with a 500 and a traceback) before the signature was
    checked."""
    slack, port, proc = served
    before = _settled(slack, 0)
    headers = payloads.signed_headers(body, content_type=content_type) if signed else \
        {"content-type": content_type, "x-slack-request-timestamp": str(int(time.time())),
         "x-slack-signature": "v0=" + "0" * 64}
    status, data = _request(port, "POST", "/slack/events", body, headers)
    assert (status, json.loads(data)) == ((400, {"error": "malformed request"}) if signed else
                                          (401, {"error": "invalid request"}))
    assert _settled(slack, 0.2) == before
    assert "Traceback" not in proc.log_path.read_text()


def test_an_unsigned_large_body_is_not_written_into_the_log(served):
    """Issue 22 item 15: Bolt's verification logging wrote a refused body whole into the log (517 KB for one
    request); the log grows by one bounded line."""
    slack, port, proc = served
    _settled(slack, 0.2)
    size = proc.log_path.stat().st_size
    body = json.dumps({"type": "event_callback", "padding": "x" * (500 * 1024)})
    headers = {"content-type": "application/json", "x-slack-request-timestamp": str(int(time.time())),
               "x-slack-signature": "v0=" + "0" * 64}
    assert _request(port, "POST", "/slack/events", body, headers)[0] == 401
    time.sleep(0.3)
    assert proc.log_path.stat().st_size - size < 2000


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
    log = proc.log_path.read_text()
    assert "http" in log and BOT_TOKEN not in log and payloads.SECRET not in log


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


def test_a_third_party_log_message_echoing_a_body_is_capped():
    """Issue 22 item 15: whatever a library logs (Bolt logs a refused body whole), one record stays bounded."""
    from bot.logs import MAX_MESSAGE, KeyValueFormatter

    record = logging.makeLogRecord({"name": "slack_bolt", "levelno": logging.INFO, "levelname": "INFO",
                                    "msg": "Invalid request signature detected (body: %s)", "args": ("x" * 500_000,),
                                    "body": "y" * 500_000})
    line = KeyValueFormatter("%(levelname)s %(message)s").format(record)
    assert len(line) < 3 * MAX_MESSAGE and "characters not logged" in line
