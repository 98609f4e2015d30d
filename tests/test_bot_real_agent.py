"""The bot with the real agent (LangGraph, EDA generator, small budget, serial executor) against the fake Slack
Web API: mention → progress → a real review page → reject two samples and approve → report with plots →
notification → Promote, and a review resumed by a new app object and a new agent on the same workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk import WebClient

from agent.context import AgentContext
from agent.service import Agent
from bot.app import create_app
from bot.notify import SlackNotifier
from tests.bot_harness import Harness, bot_settings
from tests.fakes.slack_server import fake_slack


class RealAgentHarness(Harness):
    def restart(self) -> None:
        self.client = WebClient(token=self.settings.bot_token, base_url=self.slack.api_url)
        options = {"generator": "eda", "budget": 20, "n_per_example": 2, "max_sources": 20, "executor": "serial",
                   "page_size": 10, "progress_interval": 0.0, **self.agent_options}   # a test may change any
        context = AgentContext(workspace=Path(self.settings.workspace), approvers=self.settings.approvers,
                               notifier=SlackNotifier.from_settings(self.client, self.settings), **options)
        self.agent = Agent(context)
        self.app = create_app(self.settings, client=self.client, agent=self.agent)


@pytest.fixture
def bot(tmp_path):
    with fake_slack() as slack:
        yield RealAgentHarness(slack, bot_settings(tmp_path / "ws"))


def test_a_run_with_the_real_agent_from_mention_to_promotion(bot):
    slack = bot.slack
    bot.mention("improve ABBR on trec6")
    page = bot.posted()
    assert page["text"].startswith("Review page 1/") and "ABBR on trec6" in page["text"]
    progress_lines = [str(c.args["blocks"][1]) for c in slack.calls_to("chat.update")]
    assert any("Understood" in line or "Generating" in line for line in progress_lines)   # newest ones kept
    assert "Waiting for a review" in progress_lines[-1]
    assert bot.agent.pending_reviews()[0].page == 1

    bot.restart()                                                    # a new process: agent and app
    bot.click(page, "review:approve_page", ticked=(1, 2))
    page2 = bot.posted()
    assert page2["text"].startswith("Review page 2/")
    closed = [c.args for c in slack.calls_to("chat.update") if c.args["ts"] == page["ts"]][-1]
    assert "Page approved by <@U1> · rejected #1, #2" in str(closed["blocks"])

    bot.click(page2, "review:approve_all")
    report = [c for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == page["thread_ts"]][-1]
    assert "class CBA on test" in report.args["text"] or "finished" in report.args["text"]
    assert slack.calls_to("files.completeUploadExternal")
    notified = [c.args for c in slack.calls_to("chat.postMessage") if c.args["channel"] == "CNOTIFY"]
    if "Promote" in str(report.args["blocks"]):                      # a model was registered
        assert notified and "New model" in notified[-1]["text"]
        message = {"ts": report.response["ts"], "thread_ts": report.args["thread_ts"],
                   "blocks": report.args["blocks"]}
        bot.click(message, "report:promote")
        assert "now in production" in bot.posted(channel="C1")["text"]
    assert bot.payload_problems() == []


def _collapsed(slack, progress_ts: str, *, include_uploads: bool = False) -> list[str]:
    """The methods called, the progress message's updates left out (how many are sent, and when the sender thread
    sends them, depends on the machine's speed), and repeated file-upload calls folded."""
    methods = [c.method for c in slack.calls if (include_uploads or c.method != "upload")
               and not (c.method == "chat.update" and c.args.get("ts") == progress_ts)]
    return [m for i, m in enumerate(methods)
            if i == 0 or m != methods[i - 1] or not m.startswith(("files.", "upload"))]


def test_the_conversation_with_the_real_agent_makes_exactly_these_web_api_calls(bot):
    slack = bot.slack
    bot.mention("improve ABBR on trec6")
    progress_ts = slack.calls_to("chat.postMessage")[0].response["ts"]
    assert _collapsed(slack, progress_ts) == ["auth.test", "chat.postMessage",   # ack + the one progress message
                                              "chat.postMessage"]                # review page 1
    assert slack.methods()[-1] == "chat.postMessage"                              # after the last progress update
    page = bot.posted()
    slack.clear()
    bot.click(page, "review:approve_page", ticked=(1, 2))
    assert _collapsed(slack, progress_ts) == ["chat.update",                     # page 1 closed
                                              "chat.postMessage"]                # review page 2
    page = bot.posted()
    slack.clear()
    bot.click(page, "review:approve_all")
    methods = _collapsed(slack, progress_ts, include_uploads=True)
    registered = ["chat.update",                                  # page 2 closed
                  "chat.getPermalink", "chat.postMessage",        # team notification: model registered
                  "chat.postMessage",                             # the report with Promote / Discard
                  "files.getUploadURLExternal", "upload", "files.completeUploadExternal"]   # the PNGs
    unchanged = ["chat.update", "chat.postMessage", "files.getUploadURLExternal", "upload",   # no gain: no
                 "files.completeUploadExternal"]                                           # notification
    assert methods in (registered, unchanged)
    final = [c for c in slack.calls if c.method == "chat.update" and c.args["ts"] == progress_ts][-1]
    assert "Waiting for a review" not in str(final.args["blocks"])                # progress: finished
    uploads = slack.calls_to("files.completeUploadExternal")[0].args
    assert uploads["thread_ts"] == page["thread_ts"] and len(uploads["files"]) == 3
    assert bot.payload_problems() == []
