"""Issue 22 item 5: progress updates never hold up the run. The run's ``on_event`` only stores the newest state; a
sender thread sends it (intermediate states dropped, Slack's ``Retry-After`` waited out there), and the bot's next
message in the thread comes after the last progress update."""

from __future__ import annotations

import threading
import time

import pytest

from bot.progress import ProgressMessage
from tests.bot_harness import Harness, bot_settings
from tests.fakes.slack_server import fake_slack

MENTION_TS = "1699999999.000100"


class _SlowClient:
    """``chat.update`` takes ``seconds`` (a slow or rate-limited Slack); each text sent is kept."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.sent: list[str] = []
        self.threads: set[str] = set()

    def chat_update(self, **kwargs):
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        self.sent.append(str(kwargs["blocks"][1]["elements"][0]["text"]))


def test_progress_events_return_at_once_and_only_the_newest_is_sent():
    client = _SlowClient(0.5)
    progress = ProgressMessage(client, "C1", "1.1", request="improve ABBR on trec6", user="U1", interval=0.0)
    waits = []
    for i in range(20):
        started = time.monotonic()
        progress.update({"step": "generate", "done": i + 1, "total": 20})
        waits.append(time.monotonic() - started)
        time.sleep(0.01)
    assert max(waits) < 0.1
    progress.flush()
    assert "20/20" in client.sent[-1] and len(client.sent) <= 3   # the first in flight, then the newest
    progress.finish("review")
    assert "Waiting for a review" in client.sent[-1] and len(client.sent) <= 4
    assert threading.current_thread().name not in client.threads
    progress.update({"step": "generate", "done": 21, "total": 20})      # nothing after the final state
    progress.flush()
    assert "Waiting for a review" in client.sent[-1]


@pytest.mark.reliability
def test_a_rate_limited_progress_update_does_not_block_the_run(tmp_path):
    with fake_slack() as slack:
        bot = Harness(slack, bot_settings(tmp_path / "ws"), agent_options={"events": 20, "event_pause": 0.02})
        slack.fail("chat.update", "ratelimited", retry_after=2)           # Slack: wait 2 s
        bot.mention("improve ABBR on trec6")
        assert len(bot.agent.event_seconds) == 21                           # "understood" + 20 generation events
        assert max(bot.agent.event_seconds) < 0.1
        progress_ts = slack.calls_to("chat.postMessage")[0].response["ts"]
        updates = [i for i, c in enumerate(slack.calls) if c.method == "chat.update" and c.args["ts"] == progress_ts]
        assert len(updates) <= 6                                            # 429, its retry, few more, final
        final = slack.calls[updates[-1]]
        assert "Waiting for a review" in str(final.args["blocks"])
        page = [i for i, c in enumerate(slack.calls) if c.method == "chat.postMessage"
                and "Review page" in str(c.args.get("text"))]
        assert page and page[0] > updates[-1]                               # the page comes after the progress
        assert bot.payload_problems() == []
