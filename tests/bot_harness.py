"""A bot under test: real Bolt app and slack_sdk client, the fake Slack Web API, and the FakeAgent.

``Harness.dispatch(body)`` signs the body like Slack, dispatches it through Bolt and waits until every listener
and job has finished, so a test reads the Web API calls in the order the bot made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from autogets.config import Settings
from bot.app import BotApp, create_app, make_client
from bot.notify import SlackNotifier
from bot.settings import BotSettings
from tests.fakes import slack_payloads as payloads
from tests.fakes.fake_agent import FakeAgent
from tests.fakes.payload_check import payload_problems
from tests.fakes.slack_server import FakeSlack

BOT_TOKEN = "xoxb-0000-1111-test-token-never-logged"


def bot_settings(workspace: Path, **changes: Any) -> BotSettings:
    values: dict[str, Any] = {"bot_token": BOT_TOKEN, "signing_secret": payloads.SECRET, "notify_channel": "CNOTIFY",
                              "approvers": frozenset({"UAPPROVER"}), "progress_seconds": 0.0, "queue_limit": 1,
                              "core": Settings(workspace=workspace)}
    values.update(changes)
    return BotSettings(**values)


@dataclass
class Harness:
    slack: FakeSlack
    settings: BotSettings
    agent_options: dict[str, Any] = field(default_factory=dict)
    client: WebClient = field(init=False)
    agent: FakeAgent = field(init=False)
    app: BotApp = field(init=False)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """A new process, as far as the bot can tell: new client (the bot's own, with its rate-limit retries),
        agent and app on the same workspace."""
        self.client = make_client(replace(self.settings, api_url=self.slack.api_url))
        self.agent = FakeAgent(self.settings.workspace, notifier=SlackNotifier.from_settings(self.client,
                                                                                             self.settings),
                               approvers=self.settings.approvers, **self.agent_options)
        self.app = create_app(self.settings, client=self.client, agent=self.agent)

    def dispatch(self, body: str, content_type: str = "application/json") -> BoltResponse:
        response = self.app.dispatch(payloads.request(body, content_type))
        assert self.app.bridge.jobs.wait_idle(180), "the bot did not settle"  # a real agent run on a loaded machine
        return response

    def mention(self, text: str, **kwargs: Any) -> BoltResponse:
        return self.dispatch(payloads.app_mention(text, **kwargs))

    def click(self, message: dict[str, Any], action_id: str, *, user: str = "U1", channel: str = "C1",
              ticked: tuple[int, ...] = (), trigger_id: str | None = None) -> BoltResponse:
        body = payloads.block_actions(user=user, channel=channel, message=message, action_id=action_id,
                                      ticked=ticked, trigger_id=trigger_id)
        return self.dispatch(body, "application/x-www-form-urlencoded")

    def submit(self, view: dict[str, Any], values: dict[str, dict[str, str | None]], *,
               user: str = "U1") -> BoltResponse:
        """Submit a modal the bot opened (``view``: the ``views.open`` answer's view) with ``values`` typed in."""
        return self.dispatch(payloads.view_submission(user=user, view=view, values=values),
                             "application/x-www-form-urlencoded")

    def opened_view(self, index: int = -1) -> dict[str, Any]:
        """A modal the bot opened, as Slack holds it (with its id)."""
        return self.slack.calls_to("views.open")[index].response["view"]

    def posted(self, index: int = -1, *, channel: str | None = None) -> dict[str, Any]:
        """A message the bot posted (``{"ts", "thread_ts", "blocks", "text", "channel"}``), as a click sees it."""
        calls = [c for c in self.slack.calls_to("chat.postMessage") if channel is None or c.args["channel"] == channel]
        call = calls[index]
        return {"ts": call.response["ts"], "thread_ts": call.args.get("thread_ts"), "blocks": call.args["blocks"],
                "text": call.args.get("text"), "channel": call.args["channel"]}

    def payload_problems(self) -> list[str]:
        """Every Block Kit payload sent so far, checked against Slack's limits, escaping and the bot's budget."""
        return payload_problems(self.slack.calls)
