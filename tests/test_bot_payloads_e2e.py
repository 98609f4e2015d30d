"""Every Block Kit payload of an end-to-end flow passes Slack's SDK and our budget (issue 22, "must show" 3).

The fake Slack records every Web API call; :func:`tests.fakes.payload_check.payload_problems` checks each message and
view it received (``slack_sdk.models`` validation, Slack's limits, escaping and ``verbatim``, and
``bot.blocks.MESSAGE_BUDGET``). The ``checked_slack`` fixture does it when a flow ends, so a flow test cannot pass
with a bad payload. Flows: the real agent on a data file of hostile texts with a review round of 1,000 samples
shown 50 to a page (clicks, rejects, next page, status, a refused click, the Home tab, approve all, the report,
Promote); and, in tests/test_bot_load.py, the load script's bot process with a restart.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from slack_sdk import WebClient

from tests.bot_harness import bot_settings
from tests.fakes import slack_payloads as payloads
from tests.fakes.payload_check import checked_payloads, payload_problems
from tests.fakes.slack_server import fake_slack
from tests.test_bot_real_agent import RealAgentHarness
from tests.test_reliability_untrusted import INJECTIONS

HOSTILE = INJECTIONS + (
    "@here @channel @everyone <!here> <!everyone> <#C123|general> <@W999> <!subteam^S1|@team>",
    "&lt;script&gt;alert(1)&lt;/script&gt; & < > &amp;amp; <<>> `code` ```block``` *bold* _it_ ~strike~ >quote",
    "\u202eRTL override\u202c zero\u200bwidth \u0000nul \ufeffbom 🚀🔥 ｆｕｌｌ ＠here",
    "x" * 3500,
    "https://example.com/" + "a" * 200 + " mailto:someone@example.com tel:+15555550100",
)


def _hostile_file(path: Path, n_target: int = 800, n_other: int = 60) -> Path:
    """Class ``a`` with enough texts that 200 sources × 12 samples keep a round of over 1,000 after near-duplicates
    are dropped; most texts hostile."""
    words = {"a": "apple banana orchard", "b": "car engine garage", "c": "river lake harbour"}
    rows = []
    for c, n in (("a", n_target), ("b", n_other), ("c", n_other)):
        for i in range(n):
            text = f"{words[c]} sample {i} {c}"
            rows.append((f"{HOSTILE[i % len(HOSTILE)]} {text}" if i % 3 else text, c))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@pytest.fixture
def checked_slack():
    """The fake Slack of a flow; when the flow ends, every payload it received must be valid."""
    with fake_slack() as slack:
        yield slack
        assert checked_payloads(slack.calls), "the flow sent no Block Kit payload"
        problems = payload_problems(slack.calls)
        assert problems == [], "\n".join(problems[:20])


def test_the_checker_finds_what_slack_would_refuse(tmp_path):
    """The end-to-end check can fail: payloads Slack (or its SDK) refuses are reported, one line each."""
    with fake_slack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        good = {"type": "section", "text": {"type": "mrkdwn", "text": "fine", "verbatim": True}}
        client.chat_postMessage(channel="C1", text="ok", blocks=[good])
        bad = [
            [{"type": "section", "text": {"type": "mrkdwn", "text": "no verbatim"}}],          # links would parse
            [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001, "verbatim": True}}],   # > 3000
            [{"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {     # the SDK refuses
                "type": "plain_text", "text": "b"}, "url": "https://x.example/" + "u" * 3000}]}],
            [{"type": "section", "text": {"type": "plain_text", "text": "z" * 2900}}] * 4,         # over budget
            [{"type": "section", "text": {"type": "plain_text", "text": "ping <!here>"}}],
        ]
        for blocks in bad:
            try:
                client.chat_postMessage(channel="C1", text="bad", blocks=blocks)
            except Exception:  # noqa: BLE001 (the fake refuses msg_blocks_too_long like Slack)
                pass
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [
            {"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {
                "type": "plain_text", "text": "b" * 80}}]}]})
        problems = payload_problems(slack.calls)
    assert len(checked_payloads(slack.calls)) == 7
    for index, needle in ((1, "verbatim"), (2, "3001 characters"), (3, "slack_sdk.models"),
                          (4, "MESSAGE_BUDGET"), (5, "unescaped token"), (6, "views.publish")):
        assert any(p.startswith(f"payload {index} ") and needle in p for p in problems), (index, problems)
    assert not any(p.startswith("payload 0 ") for p in problems)


@pytest.mark.slow
@pytest.mark.reliability
def test_hostile_texts_and_a_1000_sample_round_end_to_end_every_payload_valid(tmp_path, checked_slack):
    slack = checked_slack
    _hostile_file(tmp_path / "hostile.csv")
    bot = RealAgentHarness(slack, bot_settings(tmp_path / "ws"), agent_options={
        "data_dirs": (tmp_path,), "n_per_example": 12, "max_sources": 200, "page_size": 50, "budget": 8})
    bot.mention("improve a on hostile.csv")
    page = bot.posted()
    pages = int(re.match(r"Review page 1/(\d+)", page["text"])[1])
    assert pages >= 20, page["text"]       # at least 951 samples kept (EDA's near-duplicates dropped), 50 a page
    bot.dispatch(payloads.message("status", user="U2", channel="C1", channel_type="channel",
                                  ts="1700000000.000300", thread_ts=page["thread_ts"]))
    bot.click(page, "review:approve_page", user="U2")                        # not the requester: refused
    assert slack.calls_to("chat.postEphemeral")
    bot.click(page, "review:approve_page", ticked=(1, 2, 3, 49, 50))
    page = bot.posted()
    assert page["text"].startswith("Review page 2/"), page["text"]
    bot.click(page, "review:next_page")
    page = bot.posted()
    assert page["text"].startswith("Review page 3/"), page["text"]
    bot.click(page, "review:approve_page", ticked=tuple(range(1, 26)))      # half of page 3 rejected
    page = bot.posted()
    bot.dispatch(payloads.app_home_opened("U1"))                           # the Home tab lists the waiting run
    assert slack.calls_to("views.publish")
    bot.dispatch(payloads.message("approve all", user="U1", channel="C1", channel_type="channel",
                                  ts="1700000000.000400", thread_ts=page["thread_ts"]))
    report = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == page["thread_ts"]][-1]
    if "Promote" in str(report.args["blocks"]):
        bot.click({"ts": report.response["ts"], "thread_ts": report.args["thread_ts"],
                   "blocks": report.args["blocks"]}, "report:promote")
    sent = str([c.args for c in slack.calls if c.method.startswith("chat.")])
    assert "<!channel>" not in sent and "<!here>" not in sent and "<@W999>" not in sent
    assert len(checked_payloads(slack.calls)) >= 10
