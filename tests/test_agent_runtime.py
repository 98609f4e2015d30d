"""The agent under team use (issue 22): long-lived resources made once, the checkpoint connection's writes under the
saver's lock, ``status`` and ``cancel`` answered at once while a run computes, a start re-run after a crash."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.api import ListNotifier
from agent.context import AgentContext
from agent.service import Agent
from autogets.workspace import Workspace


class Killed(Exception):
    """Stands for the process dying at that point."""


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
