"""Issue 22 item 4: one bot process per workspace, and queued requests survive a restart.

A second ``autogets bot`` on a workspace that a live bot serves used to run ``restore()`` and mark the live bot's
running rows interrupted (their data-set slots were never freed); now it says who holds the workspace and exits 2,
touching nothing. Requests still queued when a bot stopped used to be lost; now the next bot asks them again, in
the order they were queued, and says so in their threads.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils

from autogets.cli import main
from autogets.leases import FileLock, lock_path
from autogets.workspace import Workspace
from bot.threads import ThreadRow, ThreadStore
from tests.bot_harness import BOT_TOKEN, Harness, bot_settings
from tests.fakes import slack_payloads as payloads

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]


def _bot_env(slack, workspace: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN,
           "SLACK_SIGNING_SECRET": payloads.SECRET, "SLACK_API_URL": slack.api_url,
           "AUTOGETS_HOME": str(workspace), "AUTOGETS_NOTIFY_CHANNEL": "CNOTIFY"}
    for name in ("SLACK_APP_TOKEN", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_APPROVERS", "AUTOGETS_EXECUTOR"):
        env.pop(name, None)
    return env


def _spawn(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autogets", "bot", "--http", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _healthz(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    status = conn.getresponse().status
    conn.close()
    return status


def _row(store: ThreadStore, ts: str, **changes) -> ThreadRow:
    return store.save(ThreadRow(conversation=f"slack:T1:C1:{ts}", thread_id=f"thread-{ts}", team="T1", channel="C1",
                                thread_ts=ts, requester="U1", dataset="trec6", **changes))


def _rows(workspace: Path) -> list[dict]:
    db = sqlite_utils.Database(workspace / "bot.db")
    try:
        return list(db["slack_threads"].rows_where(order_by="conversation"))
    finally:
        db.close()


def test_a_second_bot_process_on_the_workspace_exits_2_naming_the_first_and_touches_nothing(slack, tmp_path):
    workspace = tmp_path / "ws"
    env = _bot_env(slack, workspace)
    first = _spawn(env)
    try:
        line = first.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (line, first.poll())
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        store = ThreadStore(workspace)     # the first bot's run in progress, and a request waiting behind it
        _row(store, "1699999990.000100", state="running", run_id="run1", request="improve ABBR on trec6")
        _row(store, "1699999991.000100", state="queued", request="improve HUM on trec6")
        before = _rows(workspace)
        slack.clear()

        second = _spawn(env)
        try:
            out = second.stdout.readline()     # the old code served: "listening on …"; now it exits at once
            assert _rows(workspace) == before, "the second bot changed the first bot's rows"
            assert out == "", f"the second bot serves the same workspace: {out!r}"
            assert second.wait(timeout=20) == 2
            err = second.stderr.read()
        finally:
            _stop(second)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert f"process {first.pid}, since " in lines[0] and str(workspace) in lines[0], lines[0]
        assert BOT_TOKEN not in err

        assert _rows(workspace) == before                            # no row marked interrupted, nothing re-queued
        assert slack.methods() == []                                 # the second bot never spoke to Slack
        assert _healthz(port) == 200 and first.poll() is None        # the first bot serves on
    finally:
        _stop(first)


def test_socket_mode_refuses_a_workspace_another_bot_holds_before_contacting_slack(slack, tmp_path, monkeypatch,
                                                                                   capsys, restore_logging):
    workspace = tmp_path / "ws"
    for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-A1-1-test",
                        "SLACK_API_URL": slack.api_url, "AUTOGETS_HOME": str(workspace)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    holder = FileLock(lock_path(Workspace(workspace), "bot", "workspace"))
    assert holder.acquire()
    try:
        assert main(["bot"]) == 2
    finally:
        holder.release()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"process {os.getpid()}, since " in err
    assert slack.methods() == []


# -- queued requests survive a restart -----------------------------------------------------------------------------

@pytest.fixture
def bot(slack, tmp_path):
    return Harness(slack, bot_settings(tmp_path / "ws", queue_limit=3))


def _in_thread(slack, ts: str) -> list[str]:
    return [str(c.args.get("text")) for c in slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]


def _asked(bot) -> list[str]:
    return [c[1]["text"] for c in bot.agent.calls if c[0] == "ask"]


def test_requests_queued_before_a_restart_are_queued_again_in_order_and_told(bot, slack):
    page_a = (bot.mention("improve ABBR on trec6", ts="1699999990.000100"), bot.posted())[1]
    bot.mention("help", ts="1699999992.000100")                        # this thread's row is older …
    bot.mention("improve HUM on trec6", ts="1699999991.000100")        # … but this request was queued first
    bot.mention("improve LOC on trec6", ts="1699999992.000100")
    assert "queued at position 2" in _in_thread(slack, "1699999992.000100")[-1]

    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    for ts, position in (("1699999991.000100", 1), ("1699999992.000100", 2)):
        said = _in_thread(slack, ts)
        assert "Restarted" in said[-2] and "queued at position" not in said[-2], said
        assert f"queued at position {position}" in said[-1], said
    assert bot.app.bridge.jobs.waiting("trec6") == ["slack:T1:C1:1699999991.000100", "slack:T1:C1:1699999992.000100"]

    slack.clear()
    bot.click(page_a, "review:approve_all")                             # run A ends: HUM (queued first) starts
    assert _asked(bot)[-1] == "improve HUM on trec6"
    assert "Working on" in _in_thread(slack, "1699999991.000100")[0]
    assert bot.payload_problems() == []


def test_a_request_queued_behind_a_run_the_restart_interrupted_runs_at_once(bot, slack):
    bot.mention("improve ABBR on trec6", ts="1699999990.000100")
    bot.mention("improve HUM on trec6", ts="1699999991.000100")
    store = bot.app.bridge.threads
    store.update("slack:T1:C1:1699999990.000100", state="running")    # the process died during run A
    bot.agent.stop("slack:T1:C1:1699999990.000100")
    slack.clear()

    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    said = _in_thread(slack, "1699999991.000100")
    assert "Restarted" in said[0] and "Working on" in said[1], said
    assert _asked(bot) == ["improve HUM on trec6"]
    assert bot.app.bridge.threads.get("slack:T1:C1:1699999990.000100").state == "interrupted"
    assert bot.app.bridge.threads.get("slack:T1:C1:1699999991.000100").state == "review"


def test_the_queue_order_is_the_order_requests_were_queued_in(tmp_path):
    store = ThreadStore(tmp_path)
    late = _row(store, "1.000200", state="idle")                 # an older row, queued later
    _row(store, "1.000100", state="queued", request="improve HUM on trec6")
    store.save(replace(late, state="queued", request="improve LOC on trec6"))
    store.update("slack:T1:C1:1.000100", request="improve HUM on trec6")   # saved again while queued: keeps its place
    assert [r.thread_ts for r in store.queued()] == ["1.000100", "1.000200"]
    store.update("slack:T1:C1:1.000100", state="running")
    assert store.get("slack:T1:C1:1.000100").queued_at is None
    assert [r.thread_ts for r in ThreadStore(tmp_path).queued()] == ["1.000200"]


def test_a_run_a_restart_stopped_after_a_decision_is_said_interrupted_and_frees_its_queue(bot, slack):
    """Found by the load run (benchmarks/bot_load.py): a run killed while it computed after "approve all" kept its
    thread in ``review``, so the next bot held its data set, told nobody, and the requests queued behind it waited.
    Now the restart finds no page waiting for it: the thread is told to resume, and the queue moves on."""
    a, b = "1699999980.000100", "1699999981.000100"
    bot.mention("improve ABBR on trec6", ts=a)                     # waits for review
    bot.mention("improve HUM on trec6", ts=b)                      # queued behind it
    bot.agent.stop(f"slack:T1:C1:{a}")                             # "approve all", then the process died
    slack.clear()

    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{a}").state == "interrupted"
    assert any("resume" in t for t in _in_thread(slack, a)), _in_thread(slack, a)
    closed = [c for c in slack.calls_to("chat.update") if "Review page closed" in str(c.args.get("text"))]
    assert len(closed) == 1 and "review:" not in str(closed[0].args["blocks"])   # no live buttons left
    assert _asked(bot) == ["improve HUM on trec6"]                 # the queued request ran


def test_resume_after_a_restart_waits_its_turn_in_the_data_sets_queue(bot, slack):
    """Found by the load run: ``resume`` typed in an interrupted thread went straight to the agent, beside the run
    the queue had started meanwhile; the agent then refused the next queued request of that data set and the bot
    dropped it. A resume is now admitted to its data set's queue like any run."""
    a, b, c = "1699999970.000100", "1699999971.000100", "1699999972.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    store = bot.app.bridge.threads
    store.update(f"slack:T1:C1:{a}", state="running")              # the process died during run A
    bot.agent.stop(f"slack:T1:C1:{a}")
    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    bot.mention("improve HUM on trec6", ts=b)                      # runs: A is interrupted, trec6 is free
    assert store.get(f"slack:T1:C1:{b}").state == "review"
    slack.clear()
    bot.mention("resume", ts="1699999973.000100", thread_ts=a)     # B holds trec6: A must wait for it
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{a}").state == "queued", _in_thread(slack, a)
    assert not [x for x in _asked(bot) if x == "resume"]
    bot.mention("resume", ts="1699999974.000100", thread_ts=a)     # said again while it waits: still waits
    assert not [x for x in _asked(bot) if x == "resume"]
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{a}").state == "queued"
    bot.mention("improve LOC on trec6", ts=c)                      # queued behind A's resume, not dropped
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{c}").state == "queued"


def test_a_resume_waiting_in_the_queue_when_the_bot_restarts_is_queued_again(bot, slack):
    """Review of the restart fixes: a resume waiting in its data set's queue was re-asked through ``on_text`` after
    a restart, which answered "already waiting" and queued nothing: the thread stayed queued for good."""
    a, b = "1699999960.000100", "1699999961.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    store = bot.app.bridge.threads
    store.update(f"slack:T1:C1:{a}", state="running")
    bot.agent.stop(f"slack:T1:C1:{a}")
    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    bot.mention("improve HUM on trec6", ts=b)                       # holds trec6
    bot.mention("resume", ts="1699999962.000100", thread_ts=a)      # waits behind it
    assert store.get(f"slack:T1:C1:{a}").state == "queued"
    bot.restart()                                                   # B waits for review, A's resume is queued
    assert bot.app.bridge.jobs.wait_idle(20)
    assert [w for w in bot.app.bridge.jobs.waiting("trec6")] == [f"slack:T1:C1:{a}"]


def test_requests_queued_before_a_restart_keep_their_order_in_the_new_queue(bot, slack):
    """Review of item 4: the new process asked each queued request again as its own job, so their positions in the
    new queue were a race between workers."""
    first = "1699999950.000100"
    bot.mention("improve ABBR on trec6", ts=first)                  # runs, then waits for review
    later = [f"16999999{51 + i}.000100" for i in range(4)]
    for i, ts in enumerate(later):
        bot.mention(f"improve {('HUM', 'LOC', 'NUM', 'DESC')[i]} on trec6", ts=ts)
    bot.restart()
    assert bot.app.bridge.jobs.wait_idle(20)
    assert bot.app.bridge.jobs.waiting("trec6") == [f"slack:T1:C1:{ts}" for ts in later[:3]]


def test_a_new_run_that_stops_resumably_keeps_its_thread_and_resumes_through_the_queue(slack, tmp_path):
    """Review of the restart fixes: a run that stopped resumably in its first steps (the LLM went away) was taken
    for one that never started: its thread went idle, so ``resume`` reached the agent beside the data set's queue."""
    bot = Harness(slack, bot_settings(tmp_path / "ws", queue_limit=3), agent_options={"stop_before_review": True})
    a = "1699999940.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    row = bot.app.bridge.threads.get(f"slack:T1:C1:{a}")
    assert row.state == "interrupted" and row.run_id, row
    bot.mention("resume", ts="1699999941.000100", thread_ts=a)
    assert _asked(bot)[-1] == "resume"
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{a}").state == "finished"


def test_cancel_in_a_queued_thread_withdraws_the_request(bot, slack):
    """Review of the bot: ``cancel`` typed while a request waited in its data set's queue was answered "nothing waits
    for review" and the run started later all the same. Now its requester (or an approver) withdraws it."""
    a, b = "1699999930.000100", "1699999931.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    page = bot.posted()                                                           # A's review page
    bot.mention("improve HUM on trec6", ts=b)                                     # queued behind A
    bot.mention("cancel", user="U9", ts="1699999932.000100", thread_ts=b)         # not the requester: refused
    assert bot.app.bridge.jobs.waiting("trec6") == [f"slack:T1:C1:{b}"]
    bot.mention("cancel", ts="1699999933.000100", thread_ts=b)
    assert bot.app.bridge.jobs.waiting("trec6") == []
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{b}").state == "idle"
    assert any("Withdrawn" in t for t in _in_thread(slack, b))
    bot.click(page, "review:approve_all")                                          # A ends: nothing else starts
    assert _asked(bot) == ["improve ABBR on trec6"]


def test_a_run_paused_at_a_page_the_old_process_never_posted_gets_its_page_after_a_restart(bot, slack):
    """Review of the restart work: a thread left ``running`` whose run had paused at a review page (the process died
    before posting it) was marked interrupted; ``resume`` then said "answer the page" and no page was ever shown."""
    a = "1699999920.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    bot.app.bridge.threads.update(f"slack:T1:C1:{a}", state="running", review_ts=None)   # the page was never posted
    slack.clear()
    bot.restart()
    row = bot.app.bridge.threads.get(f"slack:T1:C1:{a}")
    assert row.state == "review" and row.review_ts, row
    assert [t for t in _in_thread(slack, a) if t.startswith("Review page")]
    bot.click(bot.posted(), "review:approve_all")
    assert bot.app.bridge.threads.get(f"slack:T1:C1:{a}").state == "finished"


def test_status_in_a_queued_thread_is_the_queues_answer(bot, slack):
    """Review and load run: ``status`` typed while a request waited in its queue went to the agent, which answered
    with an unrelated list of runs (and was the slowest reply of the load run). The queue answers it now."""
    a, b = "1699999910.000100", "1699999911.000100"
    bot.mention("improve ABBR on trec6", ts=a)
    bot.mention("improve HUM on trec6", ts=b)
    asked = len(_asked(bot))
    slack.clear()
    bot.mention("status", user="U7", ts="1699999912.000100", thread_ts=b)
    assert len(_asked(bot)) == asked                                       # the agent was not asked
    assert "queued at position 1" in _in_thread(slack, b)[-1], _in_thread(slack, b)
