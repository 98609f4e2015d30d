"""The graph's state: ids and small values only (models, matrices and texts live in the workspace)."""

from __future__ import annotations

from typing import TypedDict


class AgentState(TypedDict, total=False):
    text: str                 # the request as typed
    user: str                 # who asked (the requester of a run)
    conversation: str         # front-end key of the conversation (terminal session, Slack channel + thread)
    command: str              # the canonical command understood ("improve ABBR on trec6 objective cba")
    intent: str               # improve | diagnose | status | models | promote | rollback | help | clarify | …
    request: dict             # the parsed request's fields
    run_id: str | None        # the run this thread drives
    round: int                # generation round (0, then one per regeneration)
    hint: str                 # the regeneration hint
    page: int                 # review page shown (1-based)
    review_next: str          # where the review node sends the run: review | generate | search | end
    status: str               # agent.api.TurnStatus
    message: str              # the answer to show
    model_id: str | None
    error: str | None


def fresh(text: str, user: str, conversation: str) -> AgentState:
    """The input of a new request: every field reset, so a thread can carry one request after another."""
    return AgentState(text=text, user=user, conversation=conversation, command="", intent="", request={},
                      run_id=None, round=0, hint="", page=1, review_next="review", status="running", message="",
                      model_id=None, error=None)
