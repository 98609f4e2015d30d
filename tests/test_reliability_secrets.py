"""Secrets (issue 16): Slack tokens, the signing secret and the LLM key come from the environment or from a file
named by ``<NAME>_FILE``, and never reach a log line, a report, a checkpoint or any other file of the workspace.
Two end-to-end runs with dummy secrets: the bot in HTTP mode with the real agent and the OpenAI-compatible generator
(in this process, every logger at DEBUG), and ``autogets chat`` in a subprocess (root logger at DEBUG, its stderr
and stdout captured). Also Slack request security in HTTP mode, in this process: whatever is wrong with a request,
nothing is dispatched."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autogets.config import load_settings, secret
from autogets.errors import ConfigError
from bot.settings import BotSettings
from tests.fakes import slack_payloads as payloads
from tests.fakes.openai_server import fake_openai_server
from tests.fakes.slack_server import fake_slack
from tests.test_reliability_crash import paraphrase

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-4242-4343-SECRETbotTOKENvalue"
APP_TOKEN = "xapp-1-A42-4444-SECRETappTOKENvalue"
SIGNING = "SECRETsigning0123456789abcdef0123"
LLM_KEY = "sk-SECRETllmKEY-0123456789abcdef"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING, LLM_KEY)


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    found = []
    for s in SECRETS:
        for variant in (s, s[-16:]):             # the whole secret, or its distinctive tail
            if variant.encode() in data:
                found.append(variant)
    return found


def _scan_workspace(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` (databases, WAL files, checkpoints, reports, models, locks) read as bytes."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "checkpoints.db" for p in files) and any(p.name == "autogets.db" for p in files)
    return {str(p.relative_to(root)): leaks for p in files if (leaks := _leaks(p.read_bytes()))}


def _records_text(records: list[logging.LogRecord]) -> str:
    """Each record's message and every attribute (the extras a key=value formatter would print)."""
    return "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in records)


# --- reading secrets -------------------------------------------------------------------------------------------------

def test_secrets_come_from_the_environment_or_a_file_and_errors_never_show_them(tmp_path):
    key_file = tmp_path / "llm_key"
    key_file.write_text(LLM_KEY + "\n")
    assert load_settings({"AUTOGETS_LLM_API_KEY_FILE": str(key_file)}).llm.api_key == LLM_KEY
    assert load_settings({"AUTOGETS_LLM_API_KEY": LLM_KEY}).llm.api_key == LLM_KEY
    assert LLM_KEY not in repr(load_settings({"AUTOGETS_LLM_API_KEY": LLM_KEY}))
    (tmp_path / "bot").write_text(BOT_TOKEN)
    (tmp_path / "app").write_text(APP_TOKEN + "\n")
    (tmp_path / "sign").write_text(SIGNING)
    settings = BotSettings.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "bot"),
                                     "SLACK_APP_TOKEN_FILE": str(tmp_path / "app")})
    assert (settings.bot_token, settings.app_token) == (BOT_TOKEN, APP_TOKEN)
    http_mode = BotSettings.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN,
                                      "SLACK_SIGNING_SECRET_FILE": str(tmp_path / "sign")}, http=True)
    assert http_mode.signing_secret == SIGNING and not _leaks(repr(http_mode))
    for env, match in (
        ({"AUTOGETS_LLM_API_KEY": LLM_KEY, "AUTOGETS_LLM_API_KEY_FILE": str(key_file)},
         "set AUTOGETS_LLM_API_KEY or AUTOGETS_LLM_API_KEY_FILE, not both"),
        ({"AUTOGETS_LLM_API_KEY_FILE": str(tmp_path / "missing")}, "AUTOGETS_LLM_API_KEY_FILE: cannot read"),
        ({"AUTOGETS_LLM_API_KEY_FILE": str(tmp_path / "empty")}, "cannot read"),
    ):
        with pytest.raises(ConfigError, match=match) as caught:
            secret(env, "AUTOGETS_LLM_API_KEY", "AUTOGETS_LLM_API_KEY_FILE")
        assert not _leaks(str(caught.value))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        secret({"K_FILE": str(tmp_path / "empty")}, "K", "K_FILE")
    (tmp_path / "bad").write_text("xoxp-not-a-bot-token-SECRET")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is malformed") as caught:
        BotSettings.from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "bad"), "SLACK_APP_TOKEN": APP_TOKEN})
    assert "SECRET" not in str(caught.value)


# --- end to end: the bot in HTTP mode with the real agent and an LLM -------------------------------------------------

class _Server:
    """The bot's WSGI app on a free port, in a thread."""

    def __init__(self, app):
        from bot.run import http_server

        self.server = http_server(app, "127.0.0.1", 0)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def post(self, body: str, headers: dict[str, str]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _signed(body: str, content_type: str = "application/json") -> dict[str, str]:
    return payloads.signed_headers(body, secret=SIGNING, content_type=content_type)


def test_a_bot_run_end_to_end_leaves_no_secret_in_logs_or_files(tmp_path, monkeypatch, caplog):
    import openai

    from bot.app import create_app
    from bot.run import prepare

    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    ws, secrets_dir = tmp_path / "ws", tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "bot_token").write_text(BOT_TOKEN + "\n")
    (secrets_dir / "llm_key").write_text(LLM_KEY)
    caplog.set_level(logging.DEBUG)
    with fake_slack() as slack, fake_openai_server(script=paraphrase) as llm:
        env = {"SLACK_BOT_TOKEN_FILE": str(secrets_dir / "bot_token"), "SLACK_APP_TOKEN": APP_TOKEN,
               "SLACK_SIGNING_SECRET": SIGNING, "AUTOGETS_LLM_API_KEY_FILE": str(secrets_dir / "llm_key"),
               "AUTOGETS_LLM_BASE_URL": llm.base_url, "AUTOGETS_LLM_MODEL": "fake-model",
               "AUTOGETS_HOME": str(ws), "SLACK_API_URL": slack.api_url, "AUTOGETS_NOTIFY_CHANNEL": "CNOTIFY",
               "AUTOGETS_GENERATOR": "openai", "AUTOGETS_BUDGET": "8", "AUTOGETS_EXECUTOR": "serial"}
        for name in ("SLACK_BOT_TOKEN", "AUTOGETS_LLM_API_KEY", "OPENAI_API_KEY", "AUTOGETS_APPROVERS",
                     "AUTOGETS_CONFIG", "AUTOGETS_PROMOTE_APPROVAL"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings, client = prepare(BotSettings.from_env(http=True))
        app = create_app(settings, client=client)
        server = _Server(app)
        try:
            mention = payloads.app_mention("improve ABBR on trec6")
            assert server.post(mention, _signed(mention)) == 200
            assert app.bridge.jobs.wait_idle(180)
            page = [c for c in slack.calls_to("chat.postMessage") if "Review page" in str(c.args.get("text"))][-1]
            message = {"ts": page.response["ts"], "thread_ts": page.args.get("thread_ts"),
                       "blocks": page.args["blocks"]}
            click = payloads.block_actions(user="U1", channel="C1", message=message,
                                           action_id="review:approve_all")
            assert server.post(click, _signed(click, "application/x-www-form-urlencoded")) == 200
            assert app.bridge.jobs.wait_idle(180)
            report = slack.calls_to("chat.postMessage")[-1]
            if "report:promote" in json.dumps(report.args.get("blocks")):
                promote = payloads.block_actions(user="U1", channel="C1", action_id="report:promote", message={
                    "ts": report.response["ts"], "thread_ts": report.args.get("thread_ts"),
                    "blocks": report.args["blocks"]})
                assert server.post(promote, _signed(promote, "application/x-www-form-urlencoded")) == 200
                assert app.bridge.jobs.wait_idle(60)
        finally:
            server.close()
            app.bridge.jobs.shutdown()
            app.bridge.agent.close()
        used = {r.headers.get("authorization") for r in llm.chat_requests}
        assert used == {f"Bearer {LLM_KEY}"}                  # the key from the file was the one used
        assert slack.calls and all(c.authorized for c in slack.calls if c.method != "upload")
    assert (ws / "reports").is_dir() and list(ws.rglob("report.json"))
    assert len(caplog.records) > 50                           # DEBUG from slack_sdk, openai, httpx, the bot, …
    assert not _leaks(caplog.text) and not _leaks(_records_text(caplog.records))
    assert _scan_workspace(ws) == {}


# --- end to end: autogets chat in a subprocess -----------------------------------------------------------------------

DEBUG_CLI = ("import logging, sys; logging.basicConfig(level=logging.DEBUG); from autogets.cli import main; "
             "sys.exit(main(sys.argv[1:]))")


def test_autogets_chat_with_the_llm_leaves_no_secret_in_its_output_logs_or_files(tmp_path):
    ws = tmp_path / "ws"
    with fake_openai_server(script=paraphrase) as llm:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "AUTOGETS_LLM_API_KEY": LLM_KEY,
               "AUTOGETS_LLM_BASE_URL": llm.base_url, "AUTOGETS_LLM_MODEL": "fake-model",
               "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING}
        for name in ("AUTOGETS_LLM_API_KEY_FILE", "OPENAI_API_KEY", "AUTOGETS_CONFIG", "AUTOGETS_HOME"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, "-c", DEBUG_CLI, "chat", "improve ABBR on trec6", "--generator",
                               "openai", "--yes", "--budget", "8", "--executor", "serial", "--workspace", str(ws)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert {r.headers.get("authorization") for r in llm.chat_requests} == {f"Bearer {LLM_KEY}"}
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DEBUG" in done.stderr and "Test split" in done.stdout
    assert not _leaks(done.stderr) and not _leaks(done.stdout)
    assert _scan_workspace(ws) == {}


# --- Slack request security in HTTP mode -----------------------------------------------------------------------------

@pytest.fixture
def http_bot(tmp_path):
    from bot.app import create_app
    from tests.bot_harness import bot_settings
    from tests.fakes.fake_agent import FakeAgent

    with fake_slack() as slack:
        settings = bot_settings(tmp_path / "ws", signing_secret=SIGNING, api_url=slack.api_url)
        agent = FakeAgent(settings.workspace)
        app = create_app(settings, agent=agent)
        server = _Server(app)
        yield server, app, agent, slack
        server.close()
        app.bridge.jobs.shutdown()


def _raw_post(port: int, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/slack/events", skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders(body)
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.parametrize("case", ["bad signature", "other secret", "tampered body", "stale timestamp",
                                  "future timestamp", "timestamp not a number", "no signature", "no timestamp",
                                  "no headers", "signature of another timestamp", "oversized", "bad length",
                                  "not utf-8"])
def test_a_request_that_is_not_signed_right_is_rejected_and_nothing_is_dispatched(http_bot, case):
    server, app, agent, slack = http_bot
    body = payloads.app_mention("improve ABBR on trec6", ts="1699999999.000900")
    now = int(time.time())
    headers = _signed(body)
    raw = body.encode()
    if case == "bad signature":
        headers["x-slack-signature"] = "v0=" + "0" * 64
    elif case == "other secret":
        headers = payloads.signed_headers(body, secret=payloads.SECRET)
    elif case == "tampered body":
        raw = body.replace("improve ABBR", "rollback trec6").encode()
    elif case == "stale timestamp":           # a replay of a request signed more than 5 minutes ago
        headers = payloads.signed_headers(body, secret=SIGNING, timestamp=now - 5 * 60 - 5)
    elif case == "future timestamp":
        headers = payloads.signed_headers(body, secret=SIGNING, timestamp=now + 5 * 60 + 5)
    elif case == "timestamp not a number":
        headers["x-slack-request-timestamp"] = "soon"
    elif case == "no signature":
        del headers["x-slack-signature"]
    elif case == "no timestamp":
        del headers["x-slack-request-timestamp"]
    elif case == "no headers":
        headers = {"content-type": "application/json"}
    elif case == "signature of another timestamp":
        headers["x-slack-request-timestamp"] = str(now - 1)
    elif case == "oversized":                 # declared too large: refused before a byte of it is read
        headers["Content-Length"], raw = str(600 * 1024), b""
    elif case == "not utf-8":
        raw = b"\xff\xfe" + raw
    headers.setdefault("Content-Length", "-5" if case == "bad length" else str(len(raw)))
    status = _raw_post(server.port, raw, headers)
    assert status in (400, 401, 413), status
    time.sleep(0.2)
    assert app.bridge.jobs.wait_idle(10)
    assert agent.calls == [] and [c.method for c in slack.calls] == []


def test_a_request_signed_right_is_dispatched_once_even_if_replayed_within_five_minutes(http_bot):
    server, app, agent, slack = http_bot
    body = payloads.app_mention("improve ABBR on trec6", ts="1699999999.000950")
    headers = _signed(body)
    assert server.post(body, headers) == 200
    assert server.post(body, headers) == 200                  # the same event delivered again
    assert app.bridge.jobs.wait_idle(60)
    assert [name for name, _ in agent.calls].count("ask") == 1
