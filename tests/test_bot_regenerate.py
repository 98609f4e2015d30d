"""Issue 22, "asked for before and still missing": "Regenerate" in Slack sent no hint. The click opens a modal (at
once, with the click's trigger_id) with one optional field; its submit regenerates with that hint through the same
path as a click (stale page, requester-or-approver check, the page closed with the decision and the hint). A
trigger that expired falls back to regenerating without a hint, and says so. Fake Slack, real Bolt."""

from __future__ import annotations

import json

import pytest

from bot import blocks
from tests.bot_harness import Harness, bot_settings
from tests.fakes.block_kit import problems

MENTION_TS = "1699999999.000100"
HINT_BLOCK, HINT_ACTION = blocks.HINT_BLOCK_ID, blocks.HINT_ACTION_ID


@pytest.fixture
def bot(slack, tmp_path):
    return Harness(slack, bot_settings(tmp_path / "ws"))


def _page(bot):
    bot.mention("improve ABBR on trec6")
    return bot.posted()


def _hint(text):
    return {HINT_BLOCK: {HINT_ACTION: text}}


def test_regenerate_opens_a_modal_with_the_hint_field_and_nothing_else_happens_yet(bot, slack):
    page = _page(bot)
    slack.clear()
    bot.click(page, "review:regenerate", trigger_id="4242.222.click")
    assert slack.methods() == ["views.open"]                     # at once, in the listener, before any job
    call = slack.calls_to("views.open")[0]
    assert call.response["ok"] and call.args["trigger_id"] == "4242.222.click"
    view = call.args["view"]
    assert problems(view, surface="view") == []                  # slack_sdk.models and our own reading of the limits
    assert view["type"] == "modal" and view["callback_id"] == blocks.REGENERATE_VIEW
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert len(inputs) == 1 and inputs[0]["optional"] is True and inputs[0]["block_id"] == HINT_BLOCK
    assert inputs[0]["label"]["text"] == "What should change? (optional, e.g. shorter, more formal)"
    element = inputs[0]["element"]
    assert element == {**element, "type": "plain_text_input", "action_id": HINT_ACTION, "max_length": 60}
    meta = json.loads(view["private_metadata"])
    assert len(view["private_metadata"]) <= 3000 and "xoxb" not in view["private_metadata"]
    assert meta["ts"] == page["ts"] and blocks.parse_decision_value(meta["value"])[2] == "run1-p1-r2"
    assert [c for c in bot.agent.calls if c[0] == "review"] == []
    assert bot.payload_problems() == []


def test_submitting_the_modal_regenerates_with_the_hint_and_the_closed_page_shows_it(bot, slack):
    page = _page(bot)
    bot.click(page, "review:regenerate")
    view = bot.opened_view()
    slack.clear()
    response = bot.submit(view, _hint("shorter, <!here> & more formal"))
    assert response.status == 200 and response.body == ""          # an empty ack closes the modal
    assert bot.agent.decisions()[0] == {"action": "regenerate", "ids": [], "hint": "shorter, <!here> & more formal",
                                        "page": 1, "user": "U1", "token": "run1-p1-r2"}
    closed = [c.args for c in slack.calls_to("chat.update") if c.args["ts"] == page["ts"]][0]
    line = str(closed["blocks"][-1])
    assert "Regeneration asked by <@U1> · hint: shorter, &lt;!here&gt; &amp; more formal" in line
    assert all(b["type"] != "actions" for b in closed["blocks"])
    assert bot.posted()["text"].startswith("Review page 1/2")       # the regenerated round's first page
    assert bot.payload_problems() == []


def test_an_empty_hint_regenerates_without_one(bot, slack):
    page = _page(bot)
    bot.click(page, "review:regenerate")
    bot.submit(bot.opened_view(), _hint(None))
    assert bot.agent.decisions()[0]["action"] == "regenerate" and bot.agent.decisions()[0]["hint"] == ""
    closed = [c.args for c in slack.calls_to("chat.update") if c.args["ts"] == page["ts"]][0]
    assert "Regeneration asked by <@U1>" in str(closed["blocks"][-1]) and "hint" not in str(closed["blocks"][-1])


@pytest.mark.reliability
def test_a_submission_by_someone_who_may_not_review_is_refused(bot, slack):
    page = _page(bot)
    bot.click(page, "review:regenerate")                            # the requester opened it
    view = bot.opened_view()
    slack.clear()
    response = bot.submit(view, _hint("shorter"), user="U9")
    assert response.status == 200 and response.body == ""          # the modal closes
    assert slack.methods() == ["chat.postEphemeral"]
    refusal = slack.calls_to("chat.postEphemeral")[0].args
    assert refusal["user"] == "U9" and "Only <@U1>" in refusal["text"] and refusal["thread_ts"] == MENTION_TS
    assert [c for c in bot.agent.calls if c[0] == "review"] == []


@pytest.mark.reliability
def test_a_click_by_someone_who_may_not_review_opens_no_modal(bot, slack):
    page = _page(bot)
    slack.clear()
    bot.click(page, "review:regenerate", user="U9")
    assert slack.methods() == ["chat.postEphemeral"] and "Only <@U1>" in slack.calls_to("chat.postEphemeral")[0].args[
        "text"]
    assert [c for c in bot.agent.calls if c[0] == "review"] == []


@pytest.mark.reliability
def test_an_expired_trigger_falls_back_to_regenerating_without_a_hint_and_says_so(bot, slack):
    page = _page(bot)
    slack.expire("999.222.click")
    slack.clear()
    bot.click(page, "review:regenerate", trigger_id="999.222.click")
    assert slack.calls_to("views.open")[0].response["error"] == "expired_trigger_id"
    told = slack.calls_to("chat.postEphemeral")[0].args
    assert told["user"] == "U1" and "without a hint" in told["text"]
    assert bot.agent.decisions()[0]["action"] == "regenerate" and bot.agent.decisions()[0]["hint"] == ""
    assert bot.posted()["text"].startswith("Review page 1/2")
    assert bot.payload_problems() == []


@pytest.mark.reliability
def test_a_submission_for_a_page_decided_meanwhile_applies_nothing(bot, slack):
    page = _page(bot)
    bot.click(page, "review:regenerate")
    view = bot.opened_view()
    bot.click(page, "review:approve_page")                          # decided while the modal was open
    slack.clear()
    bot.submit(view, _hint("shorter"))
    assert slack.methods() == ["chat.postEphemeral"]
    assert "already decided" in slack.calls_to("chat.postEphemeral")[0].args["text"]
    assert [d["action"] for d in bot.agent.decisions()] == ["approve_page"]


@pytest.mark.reliability
def test_a_forged_or_broken_submission_is_acknowledged_and_applies_nothing(bot, slack):
    page = _page(bot)
    bot.click(page, "review:regenerate")
    view = bot.opened_view()
    for metadata in ("{oops", json.dumps({"value": "nope"}), json.dumps([1, 2]), ""):
        assert bot.submit({**view, "private_metadata": metadata}, _hint("x")).status == 200
    bot.submit(view, _hint("y" * 500))                              # longer than the field allows: cut to 60
    assert [d["hint"] for d in bot.agent.decisions()] == ["y" * 60]


def test_the_modal_payload_is_valid_for_long_ids_and_within_slacks_metadata_limit():
    view = blocks.regenerate_modal(blocks.decision_value("t" * 100, "r" * 3000, 7, "k" * 3000), "1.2" * 100)
    assert problems(view, surface="view") == [] and len(view["private_metadata"]) <= 3000
