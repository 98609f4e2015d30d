"""The load script (benchmarks/bot_load.py) at a small size, and its counting (issue 22, "must show" 2 and 3).

The slow test runs a real bot process (``autogets bot --http``, the real agent, ``--generator eda``) with 4 users in
3 threads on 2 data sets, kills it in the middle (SIGKILL) and starts a new one on the same workspace, and asserts
the counts: every request acked and answered, every run finished or resumable and every thread finished, no
duplicate run or model version, a bounded log without tokens or tracebacks, and every Block Kit payload the fake
Slack received valid. The fast tests check that the counting sees what it must fail on (duplicates, an unanswered
request), so the slow one can fail.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from benchmarks import bot_load
from tests.fakes.slack_server import Call


def _workspace(ws: Path, runs: list[tuple[str, str, str, int, str]], models: list[tuple[str, str]]) -> Path:
    ws.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(ws / "autogets.db")
    conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT, dataset TEXT, status TEXT, params TEXT)")
    conn.execute("CREATE TABLE models (id TEXT PRIMARY KEY, summary TEXT)")
    for rid, dataset, target, budget, status in runs:
        conn.execute("INSERT INTO runs VALUES (?, 'improve', ?, ?, ?)",
                     [rid, dataset, status, json.dumps({"target": target, "budget": budget})])
    for mid, run_id in models:
        conn.execute("INSERT INTO models VALUES (?, ?)", [mid, json.dumps({"run_id": run_id})])
    conn.commit()
    conn.close()
    return ws


def _load(tmp_path: Path) -> bot_load.Load:
    config = bot_load.Config(users=4, threads=3, datasets=("trec6", "banking_dev"))
    return bot_load.Load(config, slack=_NoSlack(), workspace=tmp_path / "ws", log_path=tmp_path / "bot.log")


class _NoSlack:
    api_url = "http://127.0.0.1:9/api/"
    calls: list[Call] = []


def test_the_counts_see_duplicate_runs_and_model_versions_and_unanswered_requests(tmp_path):
    load = _load(tmp_path)
    _workspace(load.workspace, runs=[("r1", "trec6", "ABBR", 8, "done"), ("r2", "trec6", "ABBR", 8, "done"),
                                     ("r3", "banking_dev", "top_up_failed", 8, "running"),
                                     ("r4", "trec6", "ABBR", 9, "failed")],
               models=[("trec6-v1", "r1"), ("trec6-v2", "r1"), ("trec6-v3", "r2")])
    load.interactions = [bot_load.Interaction("status", 0, "U2", sent=1.0, http_status=200, answered=1.3),
                         bot_load.Interaction("cancel", 0, "U3", sent=2.0, http_status=200)]
    result = load.results(elapsed=1.0, first_start=0.5)
    assert result["duplicates"] == {"runs": 1, "model_versions": 1, "models_registered": 3}
    assert result["runs"]["started"] == 4 and result["runs"]["finished"] == 2
    assert result["runs"]["failed"] == 1 and result["runs"]["resumable"] == 1
    assert result["requests"]["sent"] == 2 and result["requests"]["answered"] == 1
    assert result["wait"]["max_quick_reply_s"] == pytest.approx(0.3)
    assert "| duplicate runs / duplicate model versions | 1 / 1 |" in bot_load.markdown(result)


def test_each_thread_asks_a_distinct_run_and_bystanders_are_neither_requester_nor_approver(tmp_path):
    for users, threads in ((4, 3), (20, 10), (2, 1)):
        load = bot_load.Load(bot_load.Config(users=users, threads=threads), slack=_NoSlack(),
                             workspace=tmp_path / "ws", log_path=tmp_path / "bot.log")
        assert len({(p.dataset, p.target, p.budget) for p in load.plans}) == threads
        assert {p.dataset for p in load.plans} == set(load.config.datasets[:threads])
        for plan in load.plans:
            for n in range(5):
                assert load.bystander(plan, n) not in (plan.requester, load.approver) or users == 2


def test_an_answer_is_matched_to_its_request_by_thread_user_and_message():
    plan = bot_load.ThreadPlan(0, "1700000001.000100", "U01", "trec6", "ABBR", 8)
    now = time.monotonic()
    status = bot_load.Interaction("status", 0, "U05", sent=now)
    refused = bot_load.Interaction("click_refused", 0, "U05", sent=now, target_ts="1.2")
    click = bot_load.Interaction("click", 0, "U01", sent=now, target_ts="1.2")
    page = Call("chat.postMessage", {"thread_ts": plan.thread_ts, "text": "Review page 2/9 of ABBR on trec6"}, True)
    answer = Call("chat.postMessage", {"thread_ts": plan.thread_ts, "text": "Working on it. Run r1: search"}, True)
    other = Call("chat.postMessage", {"thread_ts": "1700000002.000100", "text": "Working on it."}, True)
    ephemeral = Call("chat.postEphemeral", {"thread_ts": plan.thread_ts, "user": "U05", "text": "no"}, True)
    closed = Call("chat.update", {"ts": "1.2", "text": "Review decided"}, True)
    assert not bot_load._answers(page, plan, status) and not bot_load._answers(other, plan, status)
    assert bot_load._answers(answer, plan, status)
    assert bot_load._answers(ephemeral, plan, refused) and not bot_load._answers(ephemeral, plan, click)
    assert bot_load._answers(closed, plan, click) and not bot_load._answers(answer, plan, click)


@pytest.mark.slow
@pytest.mark.reliability
def test_a_small_load_with_a_restart_answers_everything_and_duplicates_nothing(tmp_path):
    config = bot_load.Config(users=4, threads=3, datasets=("trec6", "banking_dev"), budget=4, restart=True,
                             timeout=600.0, status_every=4.0, workspace=tmp_path / "ws")
    result = bot_load.run_load(config)
    summary = json.dumps({k: result[k] for k in ("requests", "runs", "duplicates", "log", "threads", "errors")},
                         indent=1)[:6000]
    assert result["bot_starts"] == 2, summary                               # the restart happened
    requests = result["requests"]
    assert requests["sent"] == requests["acked_200"] == requests["answered"], summary
    assert {"request", "status", "cancel", "click", "click_refused"} <= set(requests["by_kind"]), summary
    runs = result["runs"]
    assert runs["started"] >= config.threads and runs["failed"] == 0, summary
    assert runs["finished"] + runs["resumable"] == runs["started"], summary
    assert runs["threads_finished"] == config.threads, summary
    assert result["duplicates"]["runs"] == 0 and result["duplicates"]["model_versions"] == 0, summary
    assert result["log"]["bytes"] < 2_000_000 and result["log"]["longest_line"] <= 4000, summary
    assert result["log"]["tracebacks"] == 0 and not result["log"]["secret_in_log"], summary
    assert result["payloads"]["checked"] > 20 and result["payloads"]["problems"] == [], summary
    assert result["wait"]["max_quick_reply_s"] is not None
