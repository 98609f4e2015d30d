"""The agent's graph: wiring only (react-agent's ``graph.py``). ``build_graph(checkpointer)`` compiles it; nothing
is compiled at import.

    parse_request → answer (help, diagnose, status, models, promote, rollback) [→ approve_promotion ⟲]
                  → start → diagnose → plan → generate → show_review → review ⟲ → search → report → register
                  → notify
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from agent import nodes
from agent.context import AgentContext
from agent.state import AgentState

RUN_INTENTS = ("improve",)


def route_request(state: AgentState) -> Literal["answer", "start", "__end__"]:
    if state.get("intent") == "clarify":
        return END
    if state.get("intent") in RUN_INTENTS:
        return "start"
    if state.get("intent"):
        return "answer"
    raise ValueError(f"parse_request left no intent: {state!r}")


def route_answer(state: AgentState) -> Literal["approve_promotion", "__end__"]:
    """To the second approval (and back to it while a decision is refused), else the end."""
    return "approve_promotion" if state.get("status") == "awaiting_promotion" else END


def route_run(state: AgentState) -> Literal["next", "__end__"]:
    """After a run node: on to the next step, or end (the run failed or was cancelled)."""
    status = state.get("status")
    if status in ("failed", "cancelled", "answer", "refused"):  # answer: e.g. the data set is busy with another run
        return END
    if status in ("running", "done", "no_gain"):
        return "next"
    raise ValueError(f"impossible run status {status!r}")


def route_review(state: AgentState) -> Literal["show_review", "review", "generate", "search", "__end__"]:
    """After a decision (or after ``show_review`` picked a page): wait on the same page again (``review``: a refused
    or rejected-in-part page), show the next one (``show``), a new round, the search, or the end."""
    nxt = state.get("review_next", "review")
    if state.get("status") in ("failed", "cancelled") or nxt == "end":
        return END
    if nxt == "show":
        return "show_review"
    if nxt in ("review", "generate", "search"):
        return nxt  # type: ignore[return-value]
    raise ValueError(f"impossible review outcome {nxt!r}")


NODES = {"parse_request": nodes.parse, "answer": nodes.answer, "approve_promotion": nodes.approve_promotion,
         **{name: getattr(nodes, name) for name in ("start", "diagnose", "plan", "generate", "show_review", "review",
                                                     "search", "report", "register", "notify")}}


def build_graph(checkpointer: Any = None, *, context_schema: Any = AgentContext,
                wrap: Callable[[str, nodes.Node], nodes.Node] | None = None):
    """The compiled graph; ``checkpointer`` (e.g. SqliteSaver) makes it durable and enables the review pause.

    ``context_schema`` and ``wrap`` (node name, node → node) are for a host that does not hand the nodes an
    :class:`AgentContext` itself, e.g. LangGraph Server (:mod:`agent.studio`); the graph's shape stays the same."""
    g = StateGraph(AgentState, context_schema=context_schema)
    for name, node in NODES.items():
        g.add_node(name, wrap(name, node) if wrap is not None else node)
    g.add_edge(START, "parse_request")
    g.add_conditional_edges("parse_request", route_request, ["answer", "start", END])
    g.add_conditional_edges("answer", route_answer, ["approve_promotion", END])
    g.add_conditional_edges("approve_promotion", route_answer, ["approve_promotion", END])
    for a, b in (("start", "diagnose"), ("diagnose", "plan"), ("plan", "generate"), ("generate", "show_review"),
                 ("search", "report"), ("report", "register"), ("register", "notify")):
        g.add_conditional_edges(a, route_run, {"next": b, END: END})
    g.add_conditional_edges("show_review", route_review, ["review", "search", END])
    g.add_conditional_edges("review", route_review, ["show_review", "review", "generate", "search", END])
    g.add_edge("notify", END)
    return g.compile(checkpointer=checkpointer)


def mermaid() -> str:
    """The graph as a Mermaid diagram (README, ``autogets chat --graph``)."""
    return build_graph().get_graph().draw_mermaid()
