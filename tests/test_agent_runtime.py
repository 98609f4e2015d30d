"""The agent under team use (issue 22): long-lived resources made once, the checkpoint connection's writes under the
saver's lock, ``status`` and ``cancel`` answered at once while a run computes, a start re-run after a crash."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent
from autogets.workspace import Workspace
from tests.crash import Killed, killed_at


def make_agent(ws: Path, **overrides) -> Agent:
    params = {"workspace": ws, "generator": "eda", "budget": 8, "n_per_example": 2, "max_sources": 20,
              "executor": "serial", "notifier": ListNotifier(), "progress_interval": 0.0, **overrides}
    return Agent(AgentContext(**params))


def test_calls_share_the_agents_one_workspace(tmp_path, monkeypatch):
    """Item 18: every node and service call built its own Workspace (each its own connections, schema check and
    fault bookkeeping). Now the agent makes one, and nodes get it through the runtime context."""
    a = make_agent(tmp_path / "ws")
    made = Workspace(tmp_path / "ws")
    made.db()                                           # the workspace database exists from here on
    made.close()
    built: list[Path] = []
    real = Workspace.__init__

    def counting(self, root=".autogets"):
        built.append(Path(root))
        real(self, root)

    monkeypatch.setattr(Workspace, "__init__", counting)
    for i in range(30):
        a.ask(f"t:ws{i % 3}", ("models", "status", "help", "improve ABBR on nosuchdata")[i % 4], user="alice")
    monkeypatch.undo()
    a.close()
    assert built == [], f"30 calls built {len(built)} Workspace objects"
    assert a.ctx.ws is a.ws and isinstance(a.ws, Workspace)


def test_agent_threads_writes_wait_for_the_checkpoint_savers_lock(tmp_path):
    """Item 17: the checkpoint connection is shared with the agent's own table; a write outside the saver's lock
    could commit (or roll back) a checkpoint write half-way."""
    a = make_agent(tmp_path / "ws")
    done = threading.Event()
    with a.saver.lock:                              # the saver is in the middle of a checkpoint write
        writer = threading.Thread(target=lambda: (a._remember(a.thread_for("t:lock"), status="answer"),
                                                  done.set()), daemon=True)
        writer.start()
        assert not done.wait(0.5), "the agent wrote on the checkpoint connection while the saver held it"
    assert done.wait(10)
    writer.join()
    a.close()


def _in_thread(fn, timeout: float):
    """``fn()`` in a thread; its result, or None if it did not return within ``timeout`` seconds."""
    out: list = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout)
    return out[0] if out else None


def test_status_and_cancel_are_answered_at_once_while_a_run_computes(tmp_path):
    """Item 1: ``status`` or ``cancel`` typed in a thread whose run computed waited on the thread lock until the run
    paused (a bot worker blocked per reply); a cancel typed early was applied later to whatever page then waited.
    Now both answer at once; the cancel stops the run before its next step."""
    notifier = ListNotifier()
    a = make_agent(tmp_path / "ws", notifier=notifier)
    inside, gate = threading.Event(), threading.Event()

    def on_event(event: dict) -> None:
        if event.get("step") == "diagnose" and not inside.is_set():   # the run computes; the thread lock is held
            inside.set()
            gate.wait(120)

    run: list = []
    runner = threading.Thread(target=lambda: run.append(a.ask("t:busy", "improve ABBR on trec6", user="alice",
                                                              on_event=on_event)), daemon=True)
    runner.start()
    try:
        assert inside.wait(120)
        status = _in_thread(lambda: a.ask("t:busy", "status", user="bob"), timeout=5)
        assert status is not None, "status waited for the run"
        assert status.status == "running" and status.run_id and status.run_id in status.text, status.text
        refused = _in_thread(lambda: a.ask("t:busy", "cancel", user="bob"), timeout=5)
        assert refused is not None and refused.status == "refused", refused
        cancel = _in_thread(lambda: a.ask("t:busy", "cancel", user="alice"), timeout=5)
        assert cancel is not None, "cancel waited for the run"
        assert cancel.data["applied"] and "Cancel requested by alice" in cancel.text, cancel.text
    finally:
        gate.set()
    runner.join(120)
    final = run[0]
    assert final.status == "cancelled" and final.review is None, final.text
    assert Workspace(tmp_path / "ws").db().execute("SELECT status FROM runs").fetchall() == [("cancelled",)]
    kinds = [kind for kind, _ in notifier.sent]
    assert "cancelled" in kinds and "review_needed" not in kinds
    a.close()


def test_a_start_killed_before_its_checkpoint_records_one_run(tmp_path):
    """Item 12: ``start`` killed after it recorded the run but before its checkpoint made a second run row when the
    thread was resumed. The run id now comes with the request, so the re-run finds its run."""
    notifier = ListNotifier()
    a = make_agent(tmp_path / "ws", notifier=notifier)
    with killed_at(notifier, "run_started"), pytest.raises(Killed):
        a.ask("t:start", "improve ABBR on trec6", user="alice")
    a.close()
    b = make_agent(tmp_path / "ws", notifier=notifier)        # a new process resumes the thread
    turn = b.resume(b.thread_for("t:start"))
    assert turn.status == "review", turn.text
    assert Workspace(tmp_path / "ws").db().execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    b.close()


def test_a_cancel_recorded_while_a_page_waits_wins_over_the_next_decision(tmp_path):
    """Review finding: a cancel typed while another call held a waiting thread was recorded for the run, but the
    page went on waiting and the next decision was applied before the run stopped. The decision now finds the
    cancel first: nothing of it is applied, the run ends cancelled."""
    a = make_agent(tmp_path / "ws")
    turn = a.ask("t:late", "improve ABBR on trec6", user="alice")
    assert turn.status == "review"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with a._exclusive(turn.thread_id):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    cancel = _in_thread(lambda: a.ask("t:late", "cancel", user="alice"), timeout=10)
    release.set()
    holder.join(10)
    assert cancel is not None and "Cancel requested" in cancel.text, cancel
    after = a.review(turn.thread_id, ReviewDecision(action="approve_all", token=turn.review.token), user="alice")
    assert after.status == "cancelled", after.text
    assert Workspace(tmp_path / "ws").db()["reviews"].count == 0
    a.close()
