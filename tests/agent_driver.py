"""Drives the agent in a separate process for the crash/resume tests (``python -m tests.agent_driver …``).

    ask WS CONVERSATION TEXT          run until the first stop; print the Turn as JSON
    review WS THREAD ACTION           decide the waiting page (approve_all, cancel, …); print the Turn
    resume WS THREAD                  continue from the last checkpoint; print the Turn
    ask-kill-in-search WS CONV TEXT   approve everything, then kill -9 this process during the search
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent


def make_agent(ws: str) -> Agent:
    ctx = AgentContext(workspace=Path(ws), generator="eda", budget=40, n_per_example=2, max_sources=20,
                       executor="serial", notifier=ListNotifier(), progress_interval=0.0)
    return Agent(ctx)


def show(turn) -> None:
    print(json.dumps(turn.to_dict(), default=str))


def main(argv: list[str]) -> None:
    cmd, ws = argv[0], argv[1]
    agent = make_agent(ws)
    if cmd == "ask":
        show(agent.ask(argv[2], argv[3], user="alice"))
    elif cmd == "review":
        show(agent.review(argv[2], ReviewDecision(action=argv[3]), user="alice"))
    elif cmd == "resume":
        show(agent.resume(argv[2]))
    elif cmd == "ask-kill-in-search":
        turn = agent.ask(argv[2], argv[3], user="alice")

        def die(event: dict) -> None:
            if event.get("step") == "search" and (event.get("done") or 0) >= 30:
                os.kill(os.getpid(), signal.SIGKILL)

        agent.review(turn.thread_id, ReviewDecision(action="approve_all"), user="alice", on_event=die)
        print("not killed")
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
