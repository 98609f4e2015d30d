"""Issue 22 item 3: every request that starts a run is admitted through the per-data-set queue, keyed by the data set
the agent's own parse names (not a second grammar in the bot), and its thread row records the requester."""

from __future__ import annotations

import pytest

from tests.bot_harness import Harness, bot_settings
from tests.fakes.slack_server import fake_slack

HOLDER_TS = "1699999990.000100"     # a run of trec6 by U2 holds the data set
ASKER_TS = "1699999991.000100"      # U1's request in its own thread

RUN_TEXTS = ["improve trec6 budget 300", "improve trec6 goal recall:ABBR", "improve ABBR on TREC6",
             "improve ABBR on trec6."]


@pytest.fixture
def bot(tmp_path):
    with fake_slack() as slack:
        yield Harness(slack, bot_settings(tmp_path / "ws"))


def _in_thread(bot, ts: str) -> list[dict]:
    return [c.args for c in bot.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]


def _page_in(bot, ts: str) -> dict:
    call = [c for c in bot.slack.calls_to("chat.postMessage")
            if c.args.get("thread_ts") == ts and "Review page" in str(c.args.get("text"))][-1]
    return {"ts": call.response["ts"], "thread_ts": ts, "blocks": call.args["blocks"], "channel": "C1"}


@pytest.mark.reliability
@pytest.mark.parametrize("text", RUN_TEXTS)
def test_every_run_request_the_grammar_accepts_queues_under_the_canonical_data_set(bot, text):
    bot.mention("improve HUM on trec6", user="U2", ts=HOLDER_TS)
    conversation = f"slack:T1:C1:{ASKER_TS}"
    bot.mention(text, user="U1", ts=ASKER_TS)
    jobs = bot.app.bridge.jobs
    assert jobs.waiting("trec6") == [conversation]                      # one queue, one key
    assert [k for k in ("TREC6", "trec6.") if jobs.waiting(k) or jobs.running(k)] == []
    assert "queued at position 1" in _in_thread(bot, ASKER_TS)[0]["text"]
    row = bot.app.bridge.threads.get(conversation)
    assert (row.requester, row.dataset, row.state) == ("U1", "trec6", "queued")

    bot.click(_page_in(bot, HOLDER_TS), "review:approve_all", user="U2")   # the holder ends: U1's run starts
    assert jobs.running("trec6") == {conversation}
    assert bot.app.bridge.threads.get(conversation).requester == "U1"
    before = len(bot.agent.decisions())
    bot.click(_page_in(bot, ASKER_TS), "review:approve_all", user="U1")    # the requester's own Approve all
    assert bot.slack.calls_to("chat.postEphemeral") == []                   # not refused
    assert bot.agent.decisions()[before:][0]["action"] == "approve_all"
    assert "Promote trec6-v2" in str(_in_thread(bot, ASKER_TS)[-1]["blocks"])
    assert jobs.running("trec6") == set()


@pytest.mark.parametrize("text", RUN_TEXTS[:2])
def test_the_requester_of_a_run_without_a_class_may_approve_it(bot, text):
    bot.mention(text, user="U1", ts=ASKER_TS)
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{ASKER_TS}").requester == "U1"
    bot.click(_page_in(bot, ASKER_TS), "review:approve_all", user="U1")
    assert bot.slack.calls_to("chat.postEphemeral") == []
    assert [d["action"] for d in bot.agent.decisions()] == ["approve_all"]


# -- the run key and the parser the bot uses --------------------------------------------------------------------

def _parse(tmp_path):
    from agent.context import AgentContext
    from bot.admission import parser_for

    return parser_for(AgentContext(workspace=tmp_path / "ws", data_dirs=(tmp_path / "data",)))


@pytest.mark.parametrize(("text", "key", "command"), [
    ("improve ABBR on trec6", "trec6", "improve ABBR on trec6"),
    ("improve ABBR on TREC6", "trec6", "improve ABBR on trec6"),
    ("improve ABBR on trec6.", "trec6", "improve ABBR on trec6"),
    ("Improve trec6 budget 300", "trec6", "improve trec6 budget 300"),
    ("improve trec6 goal recall:ABBR", "trec6", "improve trec6 goal recall:ABBR"),
    ("<@UBOT> improve spam on SMS_SPAM objective recall", "sms_spam", "improve spam on sms_spam objective recall")])
def test_a_run_request_is_keyed_by_the_data_set_the_agents_parse_names(tmp_path, text, key, command):
    from bot.admission import run_request

    run = run_request(_parse(tmp_path)(text))
    assert run is not None and (run.key, run.command) == (key, command)


@pytest.mark.parametrize("text", ["diagnose trec6", "status", "help", "improve", "improve ABBR",
                                  "improve ABBR on trec6 <!channel>", "frobnicate"])
def test_messages_that_start_no_run_are_not_admitted(tmp_path, text):
    from bot.admission import agent_command, run_request

    parsed = _parse(tmp_path)(text)
    assert run_request(parsed) is None
    assert agent_command(parsed, text) in (text, parsed.command(full=False) if hasattr(parsed, "command") else "")


def test_a_data_file_is_keyed_by_its_identity_and_the_bundled_copy_by_the_bundled_name(tmp_path):
    from autogets.data import bundled_path
    from bot.admission import run_request

    data = tmp_path / "data"
    data.mkdir()
    (data / "tickets.csv").write_text("text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(40)))
    (data / "trec6.csv").write_bytes(bundled_path("trec6").read_bytes())     # the bundled data set itself
    (data / "copy.csv").write_bytes(bundled_path("trec6").read_bytes())      # another name: another data set
    parse = _parse(tmp_path)
    tickets = run_request(parse(f"improve a on {data / 'tickets.csv'}"))
    assert tickets is not None and tickets.key.startswith("tickets@")
    assert run_request(parse(f"improve b on {data / 'tickets.csv'}")).key == tickets.key   # one queue per file
    assert run_request(parse(f"improve ABBR on {data / 'trec6.csv'}")).key == "trec6"
    assert run_request(parse(f"improve ABBR on {data / 'copy.csv'}")).key.startswith("copy@")


@pytest.mark.reliability
def test_free_text_the_llm_maps_to_improve_is_queued_and_the_agent_asked_the_command(tmp_path):
    from dataclasses import replace

    from autogets.config import LLMSettings
    from tests.fakes.structured_llm import json_reply, structured_llm_server

    base = dict.fromkeys(("dataset", "target", "objective", "budget", "generator", "goal", "run"))
    with fake_slack() as slack, structured_llm_server() as llm:
        settings = bot_settings(tmp_path / "ws")
        settings = replace(settings, core=replace(settings.core, llm=LLMSettings(base_url=llm.base_url, model="m")))
        bot = Harness(slack, settings)
        bot.mention("improve HUM on trec6", user="U2", ts=HOLDER_TS)
        llm.reset([json_reply({**base, "intent": "improve", "dataset": "trec6", "target": "ABBR"})])
        bot.mention("could you make the abbreviations better on trec six", user="U1", ts=ASKER_TS)
        assert llm.count == 1                                                 # one mapping, by the bot
        assert bot.app.bridge.jobs.waiting("trec6") == [f"slack:T1:C1:{ASKER_TS}"]
        bot.click(_page_in(bot, HOLDER_TS), "review:approve_all", user="U2")
        asks = [c[1]["text"] for c in bot.agent.calls if c[0] == "ask"]
        assert asks[-1] == "improve ABBR on trec6" and llm.count == 1
