"""Concurrency across processes sharing one workspace (issue 16): two approvals of the same review page at once
from two processes take effect once; two runs of the same data set are refused with a reason while one computes; a
killed process blocks nothing. (8 writer processes, 8 registering processes, racing migrations:
tests/test_workspace.py and tests/test_registry.py; double click in one bot: tests/test_bot_flow.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.service import Agent
from autogets import leases, steps
from autogets.errors import RunConflict
from autogets.registry import Registry
from autogets.workspace import Workspace
from tests.agent_driver import ROOT, call, finish, start, wait_for

pytestmark = pytest.mark.reliability

FAST = {"AGENT_DRIVER_BUDGET": "8"}


def _decisions(ws: Path, run_id: str) -> list[tuple[str, str, int]]:
    return Workspace(ws).db().execute("SELECT decision, actor, count(*) FROM reviews WHERE run_id = ? GROUP BY 1, 2",
                                      [run_id]).fetchall()


def _hold(tmp_path: Path, step: str, name: str) -> tuple[dict[str, str], Path, Path]:
    prefix = tmp_path / name
    return {"AGENT_DRIVER_HOLD": f"{step}:{prefix}"}, Path(f"{prefix}.ready"), Path(f"{prefix}.go")


# --- leases, without the agent (fast) --------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from autogets import leases
    from autogets.workspace import Workspace
    leases.hold_run(Workspace(sys.argv[1]), sys.argv[2])
    print("held", flush=True)
    time.sleep(600)
""")


def _record_run(ws: Workspace, run_id: str, dataset: str = "trec6", status: str = "running") -> None:
    ws.db()["runs"].insert({"id": run_id, "kind": "improve", "dataset": dataset, "status": status,
                            "created_at": run_id, "params": "{}"})


def test_a_run_another_process_works_on_holds_its_data_set_until_that_process_dies(tmp_path):
    ws = Workspace(tmp_path / "ws")
    _record_run(ws, "run-a")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ws.root), "run-a"], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        found = leases.run_holder(ws, "run-a")
        assert found is not None and found.pid == holder.pid
        with pytest.raises(RunConflict, match=rf"trec6 is being improved by run run-a \(process {holder.pid}, since"):
            with leases.claim(ws, "trec6", "run-b"):
                pass
        with leases.claim(ws, "sms_spam", "run-c"):     # another data set is free
            pass
        with leases.claim(ws, "trec6", "run-b", limit=2):   # a configured second slot
            pass
        leases.release_run(ws, "run-b")
        with pytest.raises(RunConflict, match="run run-a is being worked on by process"):
            leases.hold_run(ws, "run-a")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert leases.run_holder(ws, "run-a") is None       # the kernel dropped the lock with the process
    with leases.claim(ws, "trec6", "run-b"):
        pass
    assert leases.run_holder(ws, "run-b").pid == os.getpid()
    leases.release_run(ws, "run-b")
    leases.release_run(ws, "run-c")


def test_finished_runs_and_runs_nobody_works_on_hold_nothing(tmp_path):
    ws = Workspace(tmp_path / "ws")
    for run_id, status in (("r-done", "done"), ("r-failed", "failed"), ("r-waiting", "running")):
        _record_run(ws, run_id, status=status)
    assert leases.busy_runs(ws, "trec6") == []
    with leases.claim(ws, "trec6", "r-new"):
        _record_run(ws, "r-new")
    with pytest.raises(RunConflict, match="run r-new"):   # held by this process until released
        with leases.claim(ws, "trec6", "r-other"):
            pass
    leases.release_run(ws, "r-new")
    assert leases.claim_existing(ws, "r-done") is False    # a finished run never computes again


# --- two approvals of one page, two processes ------------------------------------------------------------------------

@pytest.mark.slow
def test_two_processes_approving_the_same_page_at_once_take_effect_once(tmp_path):
    ws = tmp_path / "ws"
    env = {**FAST, "AGENT_DRIVER_APPROVERS": "carol"}
    page = call("ask", str(ws), "t:twice", "improve ABBR on trec6", env=env)
    thread, run_id, token = page["thread_id"], page["run_id"], page["review"]["token"]
    hold_env, ready, go = _hold(tmp_path, "apply_review", "first")

    first = start("review", str(ws), thread, "approve_all", "alice", token, env={**env, **hold_env})
    wait_for(ready, proc=first)                # alice's decision reached the graph; not applied yet (the race window)
    second = call("review", str(ws), thread, "approve_all", "carol", token,
                  env={**env, "AGENT_DRIVER_LOCK_WAIT": "0.5"})
    assert second["status"] == "running" and "nothing was applied" in second["text"]
    assert f"process {first.pid}" in second["text"]
    go.touch()
    done = finish(first)
    assert done["status"] in ("done", "no_gain")

    late = call("review", str(ws), thread, "approve_all", "carol", token, env=env)   # after the fact: a no-op
    assert late["status"] == "answer"
    pending = steps.pending_count(Workspace(ws), run_id)
    assert pending == 0 and [(d, a) for d, a, _ in _decisions(ws, run_id)] == [("approved", "alice")]
    assert Workspace(ws).db().execute("SELECT count(*) FROM run_steps WHERE run_id = ? AND step = 'search'",
                                      [run_id]).fetchone()[0] == 1
    assert len(Registry(Workspace(ws)).list()) == (1 if done["status"] == "done" else 0)
    state = call("resume", str(ws), thread, env=env)
    assert state["status"] == done["status"] and state["run_id"] == run_id


@pytest.mark.slow
def test_two_processes_racing_on_one_page_without_a_pause(tmp_path):
    ws = tmp_path / "ws"
    env = {**FAST, "AGENT_DRIVER_APPROVERS": "carol"}
    page = call("ask", str(ws), "t:race", "improve ABBR on trec6", env=env)
    thread, run_id, token = page["thread_id"], page["run_id"], page["review"]["token"]
    procs = [start("review", str(ws), thread, "approve_all", user, token, env=env) for user in ("alice", "carol")]
    turns = [finish(p) for p in procs]
    statuses = sorted(t["status"] for t in turns)
    moved = [t for t in turns if t["status"] in ("done", "no_gain")]
    assert len(moved) == 1, statuses                               # exactly one took effect
    assert [t["status"] for t in turns if t not in moved][0] in ("running", "answer")
    actors = {a for _, a, _ in _decisions(ws, run_id)}
    assert len(actors) == 1 and len(Registry(Workspace(ws)).list()) <= 1


# --- two runs of one data set, and a killed holder -------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_run_of_a_data_set_is_refused_while_one_computes_and_a_killed_one_blocks_nothing(tmp_path):
    ws = tmp_path / "ws"
    hold_env, ready, go = _hold(tmp_path, "generate", "a")
    first = start("ask", str(ws), "t:A", "improve ABBR on trec6", env={**FAST, **hold_env})
    wait_for(ready, proc=first)                                     # run A is generating
    run_a = Workspace(ws).db().execute("SELECT id FROM runs").fetchone()[0]

    refused = call("ask", str(ws), "t:B", "improve LOC on trec6", env=FAST)
    assert refused["status"] == "answer" and refused["run_id"] is None
    assert f"trec6 is being improved by run {run_a} (process {first.pid}, since" in refused["text"]
    assert "try again when it finishes" in refused["text"]
    cli = subprocess.run([sys.executable, "-m", "autogets", "improve", "--dataset", "trec6", "--class", "LOC",
                          "--generator", "eda", "--budget", "2", "--n", "1", "--max-sources", "5", "--executor",
                          "serial", "--workspace", str(ws)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2 and cli.stdout == ""
    assert cli.stderr.strip().startswith(f"autogets: error: trec6 is being improved by run {run_a}")
    assert len(cli.stderr.strip().splitlines()) == 1
    assert [r[0] for r in Workspace(ws).db().execute("SELECT id FROM runs").fetchall()] == [run_a]

    first.send_signal(signal.SIGKILL)                               # kill -9 while it holds the data set
    first.wait()
    second = call("ask", str(ws), "t:B", "improve LOC on trec6", env=FAST)
    assert second["status"] == "review"                             # no stale lease: no wait, no expiry

    # A resumes (B waits for review: it holds nothing) and computes; B's approval meanwhile is not applied
    hold_env, ready, go = _hold(tmp_path, "generate", "a2")
    resumed = start("resume", str(ws), Agent.thread_for("t:A"), env={**FAST, **hold_env})
    wait_for(ready, proc=resumed)
    blocked = call("review", str(ws), second["thread_id"], "approve_all", env=FAST)
    assert blocked["status"] == "running" and blocked["text"].startswith("Not applied: trec6 is being improved by "
                                                                         f"run {run_a}")
    assert _decisions(ws, second["run_id"]) == []
    go.touch()
    assert finish(resumed)["status"] == "review"
    applied = call("review", str(ws), second["thread_id"], "approve_all", env=FAST)
    assert applied["status"] in ("done", "no_gain")
    assert [(d, a) for d, a, _ in _decisions(ws, second["run_id"])] == [("approved", "alice")]
