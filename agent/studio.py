"""The agent served by ``langgraph dev`` / LangGraph Server, so LangGraph Studio can open it (``langgraph.json`` →
:func:`make_graph`). The terminal and Slack front-ends keep using :mod:`agent.service`; this is a third host.

**Persistence.** The server supplies its own checkpointer and store and puts them on the graph it runs (it replaces
whatever the graph was compiled with), so :func:`make_graph` compiles the graph without one. ``langgraph dev`` keeps
threads in memory (and in ``.langgraph_api/`` under the working directory between restarts); the workspace
(``AUTOGETS_HOME``) holds the runs, samples and model versions as it does for the CLI.

**Context.** The server does not hand the nodes an :class:`~agent.context.AgentContext`: every run gets a *dict*,
the run request's ``context`` (without one, a copy of its ``configurable``) over the assistant's. An AgentContext
cannot come from there: it holds an open :class:`~autogets.workspace.Workspace` and a notifier, and its other fields
decide who may approve (``approvers``, ``promote_approval``), which files chat users may read (``data_dirs``), where
the LLM is and with which key (``llm``) and where the workspace is — whoever may call the API could otherwise approve
their own run or read any file. So the context is built once per server process from the environment, exactly as
``autogets chat`` builds it (:meth:`AgentContext.from_settings`), and from a run's dict only the fields of
:class:`StudioContext` are taken, validated like their environment variables: the default ``budget`` (nothing a
requester cannot already ask for in the request text; it is fixed in the run's record when the run starts). Every
other key is ignored (a warning names the ones that are AgentContext fields). Not the review page's size either: each
server run of a thread (the request, then each decision) has its own context, and a page must not change size
between the run that shows it and the run that decides it. The graph's context schema is :class:`StudioContext`, so
Studio's context form shows that field and the server drops other keys before the run starts.

**Permissions.** A decision resumes the graph as ``Command(resume={"action": "approve_all", "user": "alice"})``; the
review and promotion nodes check ``user`` against the policy (:mod:`agent.policy`), as for every front-end. A refused
decision is not applied and the page waits again. The server's own authentication (none under ``langgraph dev``)
does not vouch for ``user``: serve it on loopback, or behind an auth handler that sets it.

**Data set claims.** As :mod:`agent.service` does, a run holds its data set's claim (:mod:`autogets.leases`) only
while it computes: the claim is dropped when the run stops at a review page, fails, stops or ends, and taken again
before it computes again; if another run of the data set holds it then, the run stops there with a
:class:`~autogets.errors.Resumable` error (the thread continues from that step when run again with no input).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from langgraph.runtime import Runtime
from typing_extensions import TypedDict  # pydantic (the context schema shown by the server) needs it before 3.12

from agent.context import AgentContext
from agent.graph import build_graph
from agent.nodes import Node
from agent.requests import MAX_BUDGET
from agent.state import AgentState, fresh
from autogets import faults, leases
from autogets.errors import ConfigError, Resumable, RunConflict

log = logging.getLogger(__name__)


class StudioContext(TypedDict, total=False):
    """What a run's ``context`` may set (LangGraph Studio's context form, the API's ``context``)."""

    budget: int  # candidate evaluations per phase when the request names none (AUTOGETS_BUDGET)


SAFE_FIELDS = {"budget": (1, MAX_BUDGET)}
COMPUTE_NODES = ("diagnose", "plan", "generate", "search", "report", "register")
"""Nodes that compute a run's step: the data set must be claimed for the run first."""
ENDED = ("done", "no_gain", "failed", "cancelled", "answer", "refused")


_built: list[AgentContext] = []
_build_lock = threading.Lock()


def agent_context() -> AgentContext:
    """The server process's context, from the environment and ``autogets.toml`` (as ``autogets chat`` builds it);
    built once (the first node of the first run), shared by every run: one open workspace."""
    with _build_lock:
        if not _built:
            _built.append(_from_env())
        return _built[0]


def _from_env() -> AgentContext:
    ctx = AgentContext.from_settings()
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    faults.remember(ctx.workspace)
    from autogets.embeddings import store_for, use_store

    use_store(store_for(ctx.workspace))  # every text is embedded once per workspace
    return ctx


def run_context(base: AgentContext, given: Any) -> AgentContext:
    """``base`` with the safe fields of a run's context dict applied (validated); anything else ignored."""
    if isinstance(given, AgentContext):  # in-process use with a real context
        return given
    given = given if isinstance(given, dict) else {}
    chosen: dict[str, int] = {}
    for key, (low, high) in SAFE_FIELDS.items():
        value = given.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit() \
                or not low <= int(value) <= high:
            raise ConfigError(f"context {key} must be a whole number from {low} to {high}, got {value!r}")
        chosen[key] = int(value)
    ignored = sorted(set(given) & {f.name for f in fields(AgentContext)} - set(SAFE_FIELDS))
    if ignored:
        log.warning("run context fields ignored: set them in the server's environment", extra={"fields": ignored})
    return replace(base, **chosen) if chosen else base


def hosted(name: str, node: Node, base: Callable[[], AgentContext]) -> Node:
    """``node`` as the server runs it: with the AgentContext (``base()``, called in the node's worker thread: the
    server's event loop forbids blocking calls such as opening the workspace), and the run's data set claimed while
    it computes."""

    @functools.wraps(node)
    def wrapper(state: AgentState, runtime: Runtime) -> dict[str, Any]:
        ctx = run_context(base(), runtime.context)
        if name == "parse_request":
            return _new_request(state, lambda s: node(s, runtime.override(context=ctx)))
        run_id = state.get("run_id")
        if name in COMPUTE_NODES and run_id:
            try:
                leases.claim_existing(ctx.ws, run_id, limit=ctx.runs_per_dataset)  # no-op while held already
            except RunConflict as exc:
                raise Resumable(f"{exc}; run the thread again (no input) to continue") from None
        try:
            out = node(state, runtime.override(context=ctx))
        except BaseException:  # GraphInterrupt (waiting for a person), a Resumable stop, an error: no claim held
            _release(ctx, run_id)
            raise
        if name == "notify" or out.get("status") in ENDED:
            _release(ctx, out.get("run_id") or run_id)
        return out

    return wrapper


def _new_request(state: AgentState, parse: Callable[[AgentState], dict[str, Any]]) -> dict[str, Any]:
    """A new request starts afresh. The front-ends send :func:`agent.state.fresh` as input; Studio's input form sends
    what a person typed (``text``, ``user``, perhaps ``conversation``), and the rest of the thread's state — the
    previous request's run id among it — would otherwise carry over into this one."""
    if not str(state.get("text") or "").strip() or not str(state.get("user") or "").strip():
        return {"intent": "clarify", "status": "answer", "command": "",
                "message": 'Send {"text": "<a request, e.g. help>", "user": "<who asks>"} as the input.'}
    reset = fresh(state["text"], state["user"], state.get("conversation") or "studio")
    return {**reset, **parse({**state, **reset})}


def _release(ctx: AgentContext, run_id: str | None) -> None:
    if run_id:
        leases.release_run(ctx.ws, run_id)


def studio_graph(base: Callable[[], AgentContext] = agent_context, checkpointer: Any = None):
    """The agent's graph; its nodes get ``base()`` (its safe fields overridable per run)."""
    return build_graph(checkpointer, context_schema=StudioContext,
                       wrap=lambda name, node: hosted(name, node, base))


def make_graph():
    """The graph factory ``langgraph.json`` names. The server calls it (on its event loop) for each run and puts its
    checkpointer on the result; the context is built from the environment once per process, at the first node."""
    return studio_graph()
