"""Issue 22 item 6: a request Slack delivers again, or someone replays, is acknowledged and not handled again.

Event ids were remembered in memory only: Slack's retry of an event after a restart got a second reply. A signed
slash command sent again within the 5 minutes the signature check allows was handled twice (two help answers, two
queued runs). Now what was handled is remembered in ``<workspace>/bot.db`` (events by ``event_id``, slash commands
by ``trigger_id``, or by their signature and timestamp when there is none) for an hour.
"""

from __future__ import annotations

import json

import pytest
from slack_bolt.request import BoltRequest

from tests.bot_harness import Harness, bot_settings
from tests.fakes import slack_payloads as payloads

pytestmark = pytest.mark.reliability

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot(slack, tmp_path):
    return Harness(slack, bot_settings(tmp_path / "ws", queue_limit=3))


def _send(bot, body: str, headers: dict[str, str]):
    """Dispatch exactly these bytes with exactly these headers (a replay sends what it captured)."""
    response = bot.app.dispatch(BoltRequest(body=body, headers={k: [v] for k, v in headers.items()}))
    assert bot.app.bridge.jobs.wait_idle(30)
    return response


def _asked(bot) -> list[str]:
    return [c[1]["text"] for c in bot.agent.calls if c[0] == "ask"]


def test_an_event_retried_after_a_restart_is_acknowledged_and_not_answered_again(bot, slack):
    body = payloads.app_mention("help")
    assert bot.dispatch(body).status == 200
    assert len(slack.calls_to("chat.postMessage")) == 1
    bot.restart()                                                  # Slack's retry reaches the new process
    slack.clear()
    retry = {**payloads.signed_headers(body), "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    assert _send(bot, body, retry).status == 200
    assert bot.agent.calls == [] and slack.calls_to("chat.postMessage") == []


def test_a_retried_improve_after_a_restart_queues_no_second_run(bot, slack):
    bot.mention("improve ABBR on trec6", ts="1699999990.000100")
    body = payloads.app_mention("improve HUM on trec6", ts="1699999991.000100")
    bot.dispatch(body)                                             # queued behind ABBR
    bot.restart()
    slack.clear()
    _send(bot, body, payloads.signed_headers(body))
    queued = [c for c in slack.calls_to("chat.postMessage") if "queued at position" in str(c.args.get("text"))]
    assert len(queued) == 1                                        # the restart's own re-queue, not a second one
    assert bot.app.bridge.jobs.waiting("trec6") == ["slack:T1:C1:1699999991.000100"]


@pytest.mark.parametrize("trigger_id", [None, ""], ids=["trigger_id", "signature"])
def test_a_replayed_signed_slash_command_is_acknowledged_and_handled_once(bot, slack, trigger_id):
    body = payloads.slash_command("help", trigger_id=trigger_id)
    headers = payloads.signed_headers(body, content_type=FORM)
    assert _send(bot, body, headers).status == 200
    assert _send(bot, body, headers).status == 200                 # the same request, replayed at once
    assert [c.args["text"] for c in slack.calls_to("chat.postMessage")
            if "thread_ts" not in c.args] == ["<@U1> asked: `/autogets help`"]
    assert _asked(bot) == ["help"]


def test_a_slash_command_replayed_after_a_restart_starts_no_second_run(bot, slack):
    bot.mention("improve ABBR on trec6", ts="1699999990.000100")
    body = payloads.slash_command("improve HUM on trec6")
    headers = payloads.signed_headers(body, content_type=FORM)
    _send(bot, body, headers)
    bot.restart()
    slack.clear()
    _send(bot, body, headers)
    parents = [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.args]
    assert parents == [] and len(bot.app.bridge.jobs.waiting("trec6")) == 1


def test_two_slash_commands_with_the_same_text_are_two_requests(bot, slack):
    for _ in range(2):
        body = payloads.slash_command("help")
        _send(bot, body, payloads.signed_headers(body, content_type=FORM))
    assert _asked(bot) == ["help", "help"]


def test_handled_requests_are_remembered_for_an_hour_in_bot_db_then_pruned(tmp_path):
    from bot.deliveries import Deliveries

    now = [1_000_000.0]
    seen = Deliveries(tmp_path / "bot.db", ttl=3600, clock=lambda: now[0])
    assert seen.first("event:Ev1") and not seen.first("event:Ev1")
    assert seen.first(None) and seen.first(None)                   # nothing to key it by: handled
    again = Deliveries(tmp_path / "bot.db", ttl=3600, clock=lambda: now[0])   # another process, later
    assert not again.first("event:Ev1")
    now[0] += 3601
    assert again.first("event:Ev2")                                # pruning runs: Ev1 is gone
    assert again.count() == 1
    assert again.first("event:Ev1")                                # an hour on, Slack no longer retries it
    for i in range(50):
        again.first(f"event:flood{i}")
    assert again.count() == 52


def test_the_key_of_a_request(tmp_path):
    from bot.deliveries import command_key, event_key

    assert event_key({"event_id": "Ev9"}) == "event:Ev9" and event_key({}) is None
    assert command_key({"trigger_id": "1.2.3"}, {}) == "command:1.2.3"
    headers = {"x-slack-signature": ["v0=abc"], "x-slack-request-timestamp": ["1700000000"]}
    key = command_key({}, headers)
    assert key and key.startswith("command-signature:") and "abc" not in key
    assert command_key({}, {}) is None
    assert json.dumps(key)                                         # a plain string, safe to log
