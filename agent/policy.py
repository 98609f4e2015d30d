"""Who may act on a run or a model: the one rule, used by the agent's service, its nodes and answers, and the bot.

Anyone may ask, read status and reports. Reviewing a run's samples, resuming a stopped run, promoting a version and
rolling a data set back are for the *owner* (a run's requester; a model version's creator) or a listed approver
(``AUTOGETS_APPROVERS``). The second approval before production (``AUTOGETS_PROMOTE_APPROVAL=1``) is for an approver
other than the requester. Where a decision enters the graph (the review and promotion nodes) the node itself checks
it, so every front-end — Slack, the terminal, a LangGraph server resuming with ``Command(resume=…)`` — gets the same
rule; front-ends check first only to answer at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("agent.permissions")

Act = Literal["review", "resume", "promote", "roll back", "approve promotion"]


@dataclass(frozen=True)
class Policy:
    approvers: frozenset[str] = frozenset()

    def allows(self, user: str | None, act: Act, owner: str | None) -> bool:
        """Whether ``user`` may ``act`` on something ``owner`` asked for (a run) or made (a model version)."""
        if not user:
            return False
        if act == "approve promotion":
            return user in self.approvers and user != owner
        return user == owner or user in self.approvers

    def refusal(self, user: str | None, act: Act, what: str = "", *, action: str | None = None,
                **where: str | None) -> str:
        """The one sentence a refused user reads; logged (``agent.permissions``) with the user, the action (the
        decision's, e.g. ``approve_all``, else ``act what``) and ``where`` it happened (e.g. ``thread_id``)."""
        log.warning("refused", extra={"user": user, "action": action or f"{act} {what}".strip(), **where})
        who = ("an approver other than the requester" if act == "approve promotion"
               else "the requester or an approver (AUTOGETS_APPROVERS)")
        verb = "approve the promotion of" if act == "approve promotion" else act
        return f"Only {who} may {verb} {what or 'this'}."
