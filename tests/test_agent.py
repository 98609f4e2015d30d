"""The agent end to end: real graph, real SqliteSaver file, EDA generator on TREC-6 ABBR (small budgets)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.graph import build_graph, mermaid, route_review, route_run
from agent.service import Agent
from autogets import steps
from autogets.registry import Registry
from autogets.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def make_agent(ws: Path, **overrides) -> tuple[Agent, ListNotifier]:
    notifier = ListNotifier()
    params = {"workspace": ws, "generator": "eda", "budget": 12, "n_per_example": 2, "max_sources": 20,
              "executor": "serial", "notifier": notifier, "progress_interval": 0.0, **overrides}
    return Agent(AgentContext(**params)), notifier


@pytest.fixture
def agent(tmp_path):
    a, notifier = make_agent(tmp_path / "ws")
    yield a, notifier
    a.close()


def test_review_interrupt_carries_a_page_spread_over_sources_and_the_totals(agent):
    a, notifier = agent
    events: list[dict] = []
    turn = a.ask("t:payload", "improve ABBR on trec6", user="alice", on_event=events.append)
    assert turn.status == "review" and turn.requester == "alice"
    page = turn.review
    assert page.dataset == "trec6" and page.target == "ABBR" and page.page == 1 and len(page.samples) == 10
    assert page.regenerations_left == steps.MAX_REGENERATIONS and page.token
    assert [s.number for s in page.samples] == list(range(1, 11))
    assert len({s.source_id for s in page.samples}) == 10  # one text per source example before a second
    totals = page.totals
    assert totals["kept"] == totals["pending"] and page.pages == -(-totals["kept"] // 10)
    assert totals["generated"] == totals["kept"] + sum(totals["dropped"].values())
    assert all(s.text and s.source_text and s.text != s.source_text for s in page.samples)
    assert [e["step"] for e in events][:3] == ["parse", "diagnose", "plan"]
    assert any(e["step"] == "generate" and e["done"] == e["total"] for e in events)
    assert [k for k, _ in notifier.sent] == ["run_started", "review_needed"]


def test_approve_all_trains_reports_with_interval_and_registers(agent):
    a, notifier = agent
    turn = a.ask("t:all", "improve ABBR on trec6", user="alice")
    events: list[dict] = []
    done = a.review(turn.thread_id, ReviewDecision(action="approve_all", token=turn.review.token), user="alice",
                    on_event=events.append)
    assert done.status in ("done", "no_gain")
    report = done.report
    lo, hi = report["test"]["interval"]
    assert lo <= report["test"]["class_cba_gain"] <= hi and report["test"]["support"] == 17
    assert report["test"]["few_examples"] and "too few test examples" in done.text
    assert any(e["step"] == "search" and e.get("total") for e in events)
    if done.status == "done":
        assert done.report["model_id"] == "trec6-v1" and "promote trec6-v1" in done.text
        assert ("model_registered", ) == tuple(k for k, _ in notifier.sent if k == "model_registered")
    assert Path(report["files"]["per_class"]).exists()


@pytest.mark.reliability
def test_rejected_texts_never_reach_a_candidate_the_model_or_a_later_run(agent, tmp_path):
    a, _ = agent
    turn = a.ask("t:rej", "improve ABBR on trec6", user="alice")
    rejected = [turn.review.samples[0].key, turn.review.samples[3].key]
    rejected_texts = {turn.review.samples[0].text, turn.review.samples[3].text}
    again = a.review(turn.thread_id, ReviewDecision(action="reject", ids=tuple(rejected), token=turn.review.token),
                     user="alice")
    assert again.status == "review" and again.review.totals["rejected"] == 2
    assert not {s.key for s in again.review.samples} & set(rejected)
    done = a.review(again.thread_id, ReviewDecision(action="approve_all", token=again.review.token), user="alice")
    ws = Workspace(tmp_path / "ws")
    run_id = done.run_id
    problem = steps._problem(ws, run_id)  # every candidate is a selection of these rows
    assert not set(problem.keys) & set(rejected)
    assert not rejected_texts & {s.text for s in problem.prepared.synthetic}
    if done.report["model_id"]:
        recipe = Registry(ws).get(done.report["model_id"]).recipe
        assert not rejected_texts & {s["text"] for s in recipe["synthetic"]}
    status = dict(ws.db().execute("SELECT text, status FROM generations WHERE status = 'rejected'").fetchall())
    assert len(status) == 2  # marked in the cache, still there
    later = a.ask("t:rej2", "improve ABBR on trec6", user="alice")
    assert later.review.totals["dropped"].get("rejected_before") == 2
    a.review(later.thread_id, ReviewDecision(action="approve_all"), user="alice")
    assert not rejected_texts & {s.text for s in steps._problem(ws, later.run_id).prepared.synthetic}


def test_regenerate_is_bounded_and_asks_for_new_texts(agent):
    a, _ = agent
    turn = a.ask("t:regen", "improve ABBR on trec6", user="alice")
    first = {s.text for s in turn.review.samples}
    for left in (1, 0):
        turn = a.review(turn.thread_id, ReviewDecision(action="regenerate", hint="shorter"), user="alice")
        assert turn.status == "review" and turn.review.regenerations_left == left
        assert turn.review.totals["discarded"] > 0
    assert {s.text for s in turn.review.samples} != first
    refused = a.review(turn.thread_id, ReviewDecision(action="regenerate"), user="alice")
    assert refused.status == "review" and "No regenerations left" in refused.text


@pytest.mark.reliability
def test_cancel_ends_cleanly_with_nothing_registered(agent, tmp_path):
    a, notifier = agent
    turn = a.ask("t:cancel", "improve ABBR on trec6", user="alice")
    end = a.ask("t:cancel", "cancel", user="alice")
    assert end.status == "cancelled" and "cancelled" in end.text
    ws = Workspace(tmp_path / "ws")
    assert steps.run_row(ws, turn.run_id)["status"] == "cancelled"
    assert not ws.db()["models"].count
    assert a.review(turn.thread_id, ReviewDecision(action="approve_all"), user="alice").status == "answer"


@pytest.mark.reliability
def test_only_the_requester_or_an_approver_may_review(tmp_path):
    a, _ = make_agent(tmp_path / "ws", approvers=frozenset({"carol"}))
    turn = a.ask("t:perm", "improve ABBR on trec6", user="alice")
    refused = a.review(turn.thread_id, ReviewDecision(action="approve_all"), user="mallory")
    assert refused.status == "refused"
    assert a.review(turn.thread_id, ReviewDecision(action="next_page"), user="carol").status == "review"
    stale = a.review(turn.thread_id, ReviewDecision(action="approve_all", token=turn.review.token), user="alice")
    assert stale.status == "answer" and "already decided" in stale.text  # the first click moved the page on
    a.close()


@pytest.mark.parametrize("text, expected", [
    ("improve ABR on trec6", "classes: ABBR, DESC, ENTY, HUM, LOC, NUM"),
    ("improve ABBR on trec7", "trec6"),
    ("help", "improve"),
])
@pytest.mark.reliability
def test_unknown_data_or_class_answers_with_valid_ones(agent, text, expected):
    a, _ = agent
    turn = a.ask(f"t:{text}", text, user="alice")
    assert turn.status == "answer" and expected in turn.text and turn.run_id is None


@pytest.mark.reliability
def test_resume_in_a_new_process_after_exit_at_review_generates_nothing_twice(tmp_path):
    ws = tmp_path / "ws"

    def driver(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "tests.agent_driver", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = driver("ask", str(ws), "t:proc", "improve ABBR on trec6")
    assert first["status"] == "review"
    generated = Workspace(ws).db()["generations"].count
    assert generated > 0
    second = driver("review", str(ws), first["thread_id"], "approve_all")
    assert second["status"] in ("done", "no_gain") and second["run_id"] == first["run_id"]
    assert Workspace(ws).db()["generations"].count == generated


@pytest.mark.reliability
def test_killed_during_search_resumes_reusing_evaluations_and_registers_once(tmp_path):
    ws = tmp_path / "ws"
    killed = subprocess.run([sys.executable, "-m", "tests.agent_driver", "ask-kill-in-search", str(ws), "t:kill",
                             "improve ABBR on trec6"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stdout + killed.stderr[-2000:]
    thread = Agent.thread_for("t:kill")
    stored = Workspace(ws).db()["evaluations"].count
    assert stored > 0
    done = subprocess.run([sys.executable, "-m", "tests.agent_driver", "resume", str(ws), thread], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    turn = json.loads(done.stdout.strip().splitlines()[-1])
    assert turn["status"] in ("done", "no_gain")
    search = steps.step_result(Workspace(ws), turn["run_id"], "search")
    assert search["reused"] > 0
    assert Workspace(ws).db()["models"].count == (1 if turn["status"] == "done" else 0)


@pytest.mark.reliability
def test_a_step_saved_without_the_checkpoint_after_it_is_resumed_not_reported_as_running(tmp_path):
    """A process killed after a node's writes were saved but before the step's checkpoint was written (LangGraph
    saves them apart) leaves ``next`` empty: the thread must still count as stopped and resume to the end."""
    ws = tmp_path / "ws"
    a, _ = make_agent(ws)
    turn = a.ask("t:cut", "improve ABBR on trec6", user="alice")
    done = a.review(turn.thread_id, ReviewDecision(action="approve_all"), user="alice")
    assert done.status in ("done", "no_gain")
    config = a._config(turn.thread_id)
    before_report = next(s for s in a.graph.get_state_history(config) if s.next == ("report",))
    cut = before_report.config["configurable"]["checkpoint_id"]
    a.close()
    with sqlite3.connect(ws / "checkpoints.db") as db:  # the checkpoints after the report step never got written
        db.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id > ?", [turn.thread_id, cut])
        db.execute("DELETE FROM writes WHERE thread_id = ? AND checkpoint_id > ?", [turn.thread_id, cut])
    b, notifier = make_agent(ws)
    snapshot = b.graph.get_state(config)
    assert snapshot.next == () and [t.name for t in snapshot.tasks] == ["report"]
    assert b.ask("t:cut", "status", user="alice").text.startswith("The run stopped")  # not an empty "running"
    again = b.resume(turn.thread_id)
    assert again.status == done.status and again.data["model_id"] == done.data["model_id"]
    assert Workspace(ws).db()["models"].count == (1 if done.status == "done" else 0)
    assert notifier.sent and b.graph.get_state(config).tasks == ()
    b.close()


def test_improve_and_the_agent_build_the_same_model(tmp_path):
    from autogets.generators import make_generator
    from autogets.improve import improve

    a, _ = make_agent(tmp_path / "agent")
    turn = a.ask("t:same", "improve ABBR on trec6", user="alice")
    reject = (turn.review.samples[1].key,)
    done = a.review(turn.thread_id, ReviewDecision(action="reject", ids=reject), user="alice")
    done = a.review(done.thread_id, ReviewDecision(action="approve_all"), user="alice")
    a.close()

    def reviewer(page: dict) -> dict:
        keys = {s["key"] for s in page["samples"]}
        if reject[0] in keys:
            return {"action": "reject", "ids": list(reject)}
        return {"action": "approve_all", "ids": []}

    spec = steps.RunSpec(dataset="trec6", target="ABBR", budget=12, generator="eda", n_per_example=2,
                         max_sources=20, requester="alice", classifier="linear")  # the agent's (the suite's pin)
    ws = Workspace(tmp_path / "cli")
    report = improve(ws, spec=spec, generator=make_generator("eda"), executor="serial", reviewer=reviewer,
                     actor="alice")
    agent_report = steps.step_result(Workspace(tmp_path / "agent"), done.run_id, "report")
    assert report.data["recipe"]["synthetic"] == agent_report["recipe"]["synthetic"]
    assert report.data["test"]["final"]["confusion"] == agent_report["test"]["final"]["confusion"]
    if report.model_id:
        texts = ["What does NASA stand for ?", "Who wrote Hamlet ?", "How far is the moon ?"]
        mine = joblib.load(Registry(ws).get(report.model_id).artifact)
        theirs = joblib.load(Registry(Workspace(tmp_path / "agent")).get(done.report["model_id"]).artifact)
        assert np.array_equal(mine.predict(texts), theirs.predict(texts))


def test_routers_refuse_impossible_states():
    with pytest.raises(ValueError, match="impossible review outcome"):
        route_review({"review_next": "elsewhere", "status": "running"})
    with pytest.raises(ValueError, match="impossible run status"):
        route_run({"status": "waiting"})
    assert route_run({"status": "failed"}) == "__end__" and route_run({"status": "running"}) == "next"
    assert "parse_request" in mermaid() and "review" in mermaid()
    assert build_graph() is not None


def test_chat_in_a_subprocess_reviews_from_stdin_and_lists_threads(tmp_path):
    env_ws = str(tmp_path / "ws")
    cmd = [sys.executable, "-m", "autogets", "chat", "improve ABBR on trec6", "--generator", "eda", "--budget", "8",
           "--executor", "serial", "--workspace", env_ws]
    done = subprocess.run(cmd, input="r 1 2\nzzz\nA\n", cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Review ABBR samples: page 1/" in done.stderr and "rejected 2" in done.stderr
    assert "unknown answer 'zzz'" in done.stderr
    assert "Test split: improved vs M0" in done.stdout and "95% bootstrap interval" in done.stdout
    listed = subprocess.run([sys.executable, "-m", "autogets", "chat", "--list", "--json", "--workspace", env_ws],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    threads = json.loads(listed.stdout)
    assert threads[0]["status"] in ("done", "no_gain") and threads[0]["command"] == "improve ABBR on trec6"


@pytest.mark.reliability
def test_promotion_with_second_approval_and_rollback(tmp_path):
    from sklearn.dummy import DummyClassifier

    a, notifier = make_agent(tmp_path / "ws", approvers=frozenset({"carol"}), promote_approval=True)
    model = DummyClassifier().fit(["a", "b"], ["ABBR", "NUM"])
    version = Registry(Workspace(tmp_path / "ws")).register(  # a candidate that alice's run registered
        model, dataset="trec6", recipe={}, metrics_validation={}, metrics_test={}, actor="alice",
        summary={"test_cba_gain": 0.03, "interval": [0.0, 0.06]})
    model_id = version.id
    ask = a.ask("t:promo-ask", f"promote {model_id}", user="mallory")
    assert ask.status == "refused"
    ask = a.ask("t:promo-ask", f"promote {model_id}", user="alice")
    assert ask.status == "awaiting_promotion" and ask.data["model_id"] == model_id
    assert a.review(ask.thread_id, ReviewDecision(action="approve_all"), user="alice").status == "refused"
    approved = a.review(ask.thread_id, ReviewDecision(action="approve_all"), user="carol")
    assert approved.status == "answer" and "approved by carol" in approved.text
    ws = Workspace(tmp_path / "ws")
    assert Registry(ws).production("trec6").id == model_id
    assert ("promoted", model_id) in [(k, p.get("model_id")) for k, p in notifier.sent]
    back = a.ask("t:promo-ask", "rollback trec6", user="mallory")
    assert back.status == "refused"
    back = a.ask("t:promo-ask", "rollback trec6", user="carol")
    assert "no earlier production version" in back.text  # the first production version has nothing before it
    a.close()


@pytest.mark.reliability
def test_free_text_is_mapped_by_the_llm_and_validated(tmp_path, monkeypatch):
    import openai

    from autogets.config import LLMSettings
    from tests.fakes.structured_llm import Reply, json_reply, structured_llm_server

    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.delenv("LANGSMITH_TRACING", raising=False)
    script = [json_reply({"intent": "improve", "dataset": "trec6", "target": "ABBR", "objective": None,
                          "budget": None, "generator": None, "goal": None, "run": None}),
              Reply(raw=b"not json at all"), Reply(raw=b"not json at all"),
              json_reply({"intent": "improve", "dataset": "trec6", "target": "ABBREVIATIONS", "objective": None,
                          "budget": None, "generator": None, "goal": None, "run": None})]
    with structured_llm_server(script) as server:
        a, _ = make_agent(tmp_path / "ws", llm=LLMSettings(base_url=server.base_url, model="fake"))
        events: list[dict] = []
        turn = a.ask("t:free", "can you make the abbreviation class of trec6 better?", user="alice",
                     on_event=events.append)
        assert turn.status == "review" and turn.review.target == "ABBR"
        assert {"step": "parse", "command": "improve ABBR on trec6 objective cba"} in events
        garbage = a.ask("t:free2", "please do the thing with the questions", user="alice")
        assert garbage.status == "answer" and garbage.run_id is None
        unknown = a.ask("t:free3", "make abbreviations great again on trec6", user="alice")
        assert unknown.status == "answer" and "ABBR" in unknown.text and unknown.run_id is None
        a.close()
