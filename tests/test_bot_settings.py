"""Bot settings from the environment: one-line errors naming the variable and where to get it; tokens hidden."""

from __future__ import annotations

import logging

import pytest

from autogets.errors import ConfigError
from bot.logs import KeyValueFormatter, RedactTokens, redact
from bot.settings import BotSettings, parse_approvers

pytestmark = pytest.mark.reliability  # issue 16: secrets from the environment, one-line errors, redaction

BOT = "xoxb-1234-5678-abcdefABCDEF"
APP = "xapp-1-A111-222-abcdef"


def test_socket_mode_settings_from_env(tmp_path):
    s = BotSettings.from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP, "AUTOGETS_HOME": str(tmp_path),
                              "AUTOGETS_NOTIFY_CHANNEL": "C123", "AUTOGETS_APPROVERS": "U1, W2,S3",
                              "AUTOGETS_BOT_RUNS_PER_DATASET": "2", "AUTOGETS_BOT_QUEUE_LIMIT": "0"})
    assert (s.bot_token, s.app_token, s.signing_secret) == (BOT, APP, None)
    assert s.notify_channel == "C123" and s.approvers == {"U1", "W2", "S3"}
    assert (s.runs_per_dataset, s.queue_limit, s.workspace) == (2, 0, tmp_path)
    assert BOT not in repr(s) and APP not in repr(s)


def test_http_mode_needs_the_signing_secret_not_the_app_token():
    s = BotSettings.from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": "abc123"}, http=True)
    assert s.signing_secret == "abc123" and s.app_token is None and "abc123" not in repr(s)


@pytest.mark.parametrize(("env", "http", "match"), [
    ({}, False, r"SLACK_BOT_TOKEN is not set: .*OAuth & Permissions.*deploy/slack-manifest.yaml"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, False, r"SLACK_BOT_TOKEN is malformed \(it must start with xoxb-\)"),
    ({"SLACK_BOT_TOKEN": BOT}, False, r"SLACK_APP_TOKEN is not set: .*Basic Information → App-Level Tokens"),
    ({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": "xoxb-wrong"}, False, r"SLACK_APP_TOKEN is malformed .*xapp-"),
    ({"SLACK_BOT_TOKEN": BOT}, True, r"SLACK_SIGNING_SECRET is not set .*Basic Information → App Credentials"),
    ({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP, "AUTOGETS_APPROVERS": "bob"}, False, r"'bob' is not a Slack"),
    ({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP, "AUTOGETS_BOT_QUEUE_LIMIT": "x"}, False, r"must be a number"),
    ({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP, "SLACK_API_URL": "ftp://x"}, False, r"http\(s\) URL"),
])
def test_bad_environment_is_one_line_naming_the_variable(env, http, match):
    with pytest.raises(ConfigError, match=match) as info:
        BotSettings.from_env(env, http=http)
    assert "\n" not in str(info.value)
    for value in env.values():
        if value.startswith(("xox", "xapp")):
            assert value not in str(info.value)


def test_approvers_are_slack_ids():
    assert parse_approvers("") == frozenset()
    assert parse_approvers(" U0A1B2C3 ,S0GROUP") == {"U0A1B2C3", "S0GROUP"}


def test_logs_redact_tokens_from_any_message():
    assert redact(f"auth {BOT} and {APP}") == "auth xoxb-[redacted] and xapp-[redacted]"
    record = logging.makeLogRecord({"msg": "sending %s", "args": (BOT,), "levelname": "INFO", "name": "x"})
    RedactTokens().filter(record)
    record.conversation = "slack:T1:C1:1.2"
    line = KeyValueFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO sending xoxb-[redacted] conversation=slack:T1:C1:1.2"
