"""The graph's state: ids and small values only (models, matrices and texts live in the workspace)."""

from __future__ import annotations

from typing_extensions import TypedDict  # pydantic needs it before Python 3.12: LangGraph Server's input schema

from autogets.workspace import new_run_id


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
    page_keys: list[str]      # the samples that page showed (a decision applies to these and no others)
    new_run_id: str           # the id a run started by this request gets (a start re-run records no second run)
    review_next: str          # where the review nodes send the run: review | show | generate | search | end
    status: str               # agent.api.TurnStatus
    message: str              # the answer to show
    model_id: str | None
    error: str | None


def fresh(text: str, user: str, conversation: str) -> AgentState:
    """The input of a new request: every field reset, so a thread can carry one request after another."""
    return AgentState(text=text, user=user, conversation=conversation, command="", intent="", request={},
                      run_id=None, new_run_id=new_run_id(), round=0, hint="", page=1, page_keys=[],
                      review_next="review", status="running", message="", model_id=None, error=None)
