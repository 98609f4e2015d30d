"""Drives the agent in a separate process for crash/resume and concurrency tests (``python -m tests.agent_driver …``).

    ask WS CONVERSATION TEXT [USER]         run until the first stop; print the Turn as JSON
    review WS THREAD ACTION [USER] [TOKEN]  decide the waiting page (approve_all, cancel, …); print the Turn
    resume WS THREAD                        continue from the last checkpoint; print the Turn
    ask-kill-in-search WS CONV TEXT         approve everything, then kill -9 this process during the search (right
                                            after the first evaluations were stored)

Faults and pauses, injected by environment variables (deterministic, no sleeps):

    AGENT_DRIVER_KILL=POINT      kill -9 this process at POINT: ``generations:N`` once N generation rows are stored,
                                 ``search-flush`` after the first evaluations are stored, ``register-step`` when
                                 the register step starts (the report and its model file are written),
                                 ``registry-temp`` when a registration has written the model's temporary file,
                                 ``registry-rename`` inside Registry.register after the rename, before the commit
    AGENT_DRIVER_HOLD=NAME:PATH  when steps.<NAME>_step (or steps.<NAME>, e.g. apply_review) starts: create
                                 PATH.ready, wait for PATH.go, then go on
    AGENT_DRIVER_GENERATOR       eda (default) or openai (AUTOGETS_LLM_BASE_URL / AUTOGETS_LLM_API_KEY)
    AGENT_DRIVER_LOCK_WAIT       seconds to wait for a thread another process holds (Agent.lock_wait)
    AGENT_DRIVER_BUDGET          evaluations per search phase (default 40)
    AGENT_DRIVER_APPROVERS       comma-separated approvers (AgentContext.approvers)
    AGENT_DRIVER_KEEP_ALL=1      a search that chose no text chooses every approved one (so that a model is
                                 registered whatever the search finds: for tests of the register step)

:func:`call` runs the driver from a test and returns the printed Turn (or None if the process was killed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent
from autogets.config import load_settings


def make_agent(ws: str) -> Agent:
    ctx = AgentContext(workspace=Path(ws), generator=os.environ.get("AGENT_DRIVER_GENERATOR", "eda"),
                       budget=int(os.environ.get("AGENT_DRIVER_BUDGET", "40")),
                       n_per_example=2, max_sources=20, executor="serial", notifier=ListNotifier(),
                       progress_interval=0.0, llm=load_settings().llm,
                       approvers=frozenset(a for a in os.environ.get("AGENT_DRIVER_APPROVERS", "").split(",") if a))
    agent = Agent(ctx)
    if os.environ.get("AGENT_DRIVER_LOCK_WAIT"):
        agent.lock_wait = float(os.environ["AGENT_DRIVER_LOCK_WAIT"])
    return agent


ROOT = Path(__file__).resolve().parents[1]


def call(*args: str, env: dict[str, str] | None = None, killed: bool = False, timeout: float = 300
         ) -> dict[str, Any] | None:
    """Run ``python -m tests.agent_driver ARGS`` with ``env`` added to this environment; the Turn it printed, or
    None when ``killed`` (then it must have died of SIGKILL)."""
    done = subprocess.run([sys.executable, "-m", "tests.agent_driver", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if killed:
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout[-1000:], done.stderr[-3000:])
        return None
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The driver in the background (read its Turn with :func:`finish`)."""
    return subprocess.Popen([sys.executable, "-m", "tests.agent_driver", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def wait_for(path: Path, timeout: float = 120, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``path`` exists (a held driver is ready), failing early if ``proc`` ended."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"driver ended before {path.name}: {err[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.05)


def show(turn) -> None:
    print(json.dumps(turn.to_dict(), default=str), flush=True)


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def inject(point: str) -> None:
    """Arm the kill point ``point`` (see the module docstring)."""
    from autogets import registry, steps

    name, _, arg = point.partition(":")
    if name == "generations":
        from autogets.generators.cache import GenerationCache

        store = GenerationCache.store

        def store_then_maybe_die(self, *args, **kwargs):
            store(self, *args, **kwargs)
            if self.count() >= int(arg):
                die()

        GenerationCache.store = store_then_maybe_die
    elif name == "search-flush":
        flush = steps._flush

        def flush_then_die(ws, rows):
            wrote = bool(rows)
            flush(ws, rows)
            if wrote:
                die()

        steps._flush = flush_then_die
    elif name == "register-step":
        steps.register_step = lambda *a, **k: die()
    elif name == "registry-temp":
        write = registry._write_temp  # every registration (a new model or a saved file) writes its temp file here

        def write_then_die(folder, fill):
            write(folder, fill)
            die()

        registry._write_temp = write_then_die
    elif name == "registry-rename":
        def event_then_die(self, model_id, *args):  # runs after the rename, inside the write transaction
            die()

        registry.Registry._event = event_then_die
    else:
        raise SystemExit(f"unknown kill point {point}")


def hold(spec: str) -> None:
    """Pause in ``steps.<STEP>_step`` until the test creates ``PATH.go``."""
    from autogets import steps

    step, _, prefix = spec.partition(":")
    name = step if hasattr(steps, step) else f"{step}_step"
    original = getattr(steps, name)

    def held(*args, **kwargs):
        Path(prefix + ".ready").write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not Path(prefix + ".go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("held too long")
            time.sleep(0.02)
        return original(*args, **kwargs)

    setattr(steps, name, held)


def keep_all() -> None:
    from autogets import steps

    search = steps.search_step

    def search_keeping_all(ws, run_id, **kwargs):
        out = search(ws, run_id, **kwargs)
        if not out["chosen_keys"]:
            out = steps.put_step(ws, run_id, "search", {
                **out, "chosen_keys": [k for k, _ in steps.approved_synthetic(ws, run_id)]})
        return out

    steps.search_step = search_keeping_all


def main(argv: list[str]) -> None:
    cmd, ws = argv[0], argv[1]
    if os.environ.get("AGENT_DRIVER_KEEP_ALL"):
        keep_all()
    if os.environ.get("AGENT_DRIVER_KILL"):
        inject(os.environ["AGENT_DRIVER_KILL"])
    if os.environ.get("AGENT_DRIVER_HOLD"):
        hold(os.environ["AGENT_DRIVER_HOLD"])
    agent = make_agent(ws)
    if cmd == "ask":
        show(agent.ask(argv[2], argv[3], user=argv[4] if len(argv) > 4 else "alice"))
    elif cmd == "review":
        user = argv[4] if len(argv) > 4 else "alice"
        token = argv[5] if len(argv) > 5 else ""
        show(agent.review(argv[2], ReviewDecision(action=argv[3], token=token), user=user))
    elif cmd == "resume":
        show(agent.resume(argv[2]))
    elif cmd == "ask-kill-in-search":
        inject("search-flush")
        turn = agent.ask(argv[2], argv[3], user="alice")
        agent.review(turn.thread_id, ReviewDecision(action="approve_all"), user="alice")
        print("not killed")
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
