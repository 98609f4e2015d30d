"""What front-ends (the terminal chat, the Slack bot) see of the agent: small, frozen, JSON-friendly values.

A front-end sends the user's text (:meth:`agent.service.Agent.ask`) or a review decision
(:meth:`agent.service.Agent.review`) and gets back a :class:`Turn`: what to show now. Progress arrives on the way
through an ``on_event`` callback as plain dicts (see :data:`ProgressEvent`), notifications through a
:class:`Notifier`. Nothing here holds a model, a matrix or a connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

TurnStatus = Literal["answer", "review", "done", "no_gain", "failed", "cancelled", "refused",
                     "awaiting_promotion", "running"]
"""``answer``: a reply that started no run (help, status, models, diagnose, a clarification);
``review``: a run waits for a person to review a page of samples; ``done``: a run finished with a registered
model; ``no_gain``: a run finished and the model is unchanged; ``failed``: a run stopped, the reason in one
sentence; ``cancelled``: a person cancelled; ``refused``: the user may not do that (not the requester or an
approver); ``awaiting_promotion``: a run finished and waits for a second approval before production;
``running``: the thread's run is still working (another process or job holds it)."""

ReviewAction = Literal["approve_page", "approve_all", "reject", "reject_all", "regenerate", "next_page", "cancel"]

ProgressEvent = dict[str, Any]
"""e.g. ``{"step": "search", "phase": "2/3 SW on LOC", "done": 120, "total": 200, "best_gain": 0.031}`` or
``{"step": "generate", "done": 20, "total": 55}``; throttled by the agent, never one per candidate."""


@dataclass(frozen=True)
class ReviewSample:
    number: int          # 1-based position on the page: what a person types ("r 3 5") or ticks
    key: str             # stable id of the synthetic text in the workspace
    source_id: int
    source_text: str
    text: str


@dataclass(frozen=True)
class ReviewPage:
    run_id: str
    dataset: str
    target: str
    page: int                    # 1-based
    pages: int
    samples: tuple[ReviewSample, ...]
    totals: dict[str, Any]       # generated, kept, dropped {reason: n}, approved, rejected, pending
    regenerations_left: int
    requester: str | None = None
    token: str = ""              # identifies this page; a decision must carry it (a second click on a page that
    #                              was already decided is recognised and applied once)
    page_samples: int = 0        # samples the page has in all, decided or not (0: not said; ``samples`` are the
    #                              undecided ones, numbered by their place on the page)


HINT_CHARS = 60
"""What the agent keeps of a regeneration hint (the bot's hint field allows no more)."""


@dataclass(frozen=True)
class ReviewDecision:
    action: ReviewAction
    ids: tuple[str, ...] = ()    # sample keys to reject (action "reject", or alongside "approve_page")
    hint: str = ""               # for "regenerate": e.g. "shorter", "more formal"
    token: str = ""              # the ReviewPage.token this decision answers ("" = whatever page is shown now)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "ids": list(self.ids), "hint": self.hint, "token": self.token}


@dataclass(frozen=True)
class Turn:
    thread_id: str
    status: TurnStatus
    text: str                                   # what to tell the user, plain text (front-ends escape it)
    run_id: str | None = None
    review: ReviewPage | None = None
    report: dict[str, Any] | None = None        # plan and why, per-class test rows, gains with intervals, model id,
    #                                              budget spent, files {name: path of PNG/markdown}
    requester: str | None = None
    data: dict[str, Any] = field(default_factory=dict)   # structured extras (status rows, model lists, …)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NotificationKind = Literal["run_started", "review_needed", "finished", "model_registered", "promoted", "cancelled",
                           "rolled_back", "failed"]


class Notifier(Protocol):
    """Told about what a team wants to hear of; the terminal prints, the Slack bot posts to a channel."""

    def notify(self, kind: NotificationKind, payload: dict[str, Any]) -> None: ...


class NullNotifier:
    def notify(self, kind: NotificationKind, payload: dict[str, Any]) -> None:
        return None


class ListNotifier:
    """Keeps every notification (tests, and front-ends that render them later)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def notify(self, kind: NotificationKind, payload: dict[str, Any]) -> None:
        self.sent.append((kind, dict(payload)))
