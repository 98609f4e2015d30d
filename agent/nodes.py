"""The graph's nodes: one job each, plain functions of (state, runtime) returning a partial update.

Run nodes call the steps of :mod:`autogets.steps` (the same functions ``autogets improve`` calls), so a node that
re-runs after a restart finds its step's stored result and does no work twice. The review node interrupts
*first* and applies the decision after, so re-running it on resume is safe. Failures end in ``failed`` with the
reason in one sentence; "no gain" and "cancel" are normal ends.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent import answers
from agent.api import HINT_CHARS
from agent.context import AgentContext
from agent.datafiles import DataFileRefused, data_file
from agent.progress import writer
from agent.requests import Catalog, Clarify, parse_request
from agent.state import AgentState
from autogets import faults, steps
from autogets.errors import AutogetsError, DiskFull, Resumable, RunConflict
from autogets.search.robust import OBA_TOLERANCE
from autogets.workspace import Workspace

log = logging.getLogger(__name__)

Node = Callable[[AgentState, Runtime[AgentContext]], dict[str, Any]]


def _ws(runtime: Runtime[AgentContext]) -> Workspace:
    return runtime.context.ws


def guarded(node: Node) -> Node:
    """A run node whose failure ends the run in ``failed`` with one sentence, recorded with the run."""

    @functools.wraps(node)
    def wrapper(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
        if state.get("run_id") and (stopped := _cancelled(state, runtime)) is not None:
            return stopped
        try:
            return node(state, runtime)
        except Resumable:  # no checkpoint for this node: the thread stays resumable from it (agent.service)
            raise
        except AutogetsError as exc:
            reason = str(exc)
        except Exception as exc:
            reason = faults.describe(exc)  # a full disk, a read-only workspace, a damaged database: one sentence
            if reason is not None and faults.is_disk_full(exc):
                raise DiskFull(reason) from None  # what was stored stays; free space, then resume
            if reason is None:  # an unexpected fault: the user still gets one sentence, the log the details
                log.exception("agent node failed", extra={"node": node.__name__, "run_id": state.get("run_id")})
                reason = f"internal error in {node.__name__} ({type(exc).__name__})"
        if state.get("run_id"):
            try:
                steps.fail_run(_ws(runtime), state["run_id"], reason)
            except (OSError, sqlite3.Error) as exc:  # the workspace itself failed: the turn still says why
                if faults.describe(exc) is None:
                    raise
        runtime.context.notifier.notify("failed", {"run_id": state.get("run_id"), "reason": reason,
                                                   "conversation": state.get("conversation")})
        return {"status": "failed", "error": reason, "message": f"The run failed: {reason}"}

    return wrapper


def _cancelled(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any] | None:
    """End the run here if someone asked it to stop while a step computed (:func:`autogets.runs.request_cancel`)."""
    ws, run_id = _ws(runtime), state["run_id"]
    actor = steps.cancel_requested(ws, run_id)
    if actor is None:
        return None
    return _cancel(state, runtime, actor)


def _cancel(state: AgentState, runtime: Runtime[AgentContext], actor: str) -> dict[str, Any]:
    run_id = state["run_id"]
    steps.cancel_run(_ws(runtime), run_id)
    runtime.context.notifier.notify("cancelled", {"run_id": run_id, "actor": actor,
                                                  "conversation": state.get("conversation")})
    return {"status": "cancelled", "review_next": "end",
            "message": f"Run {run_id} cancelled by {actor}; nothing was trained or registered."}


def parse(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Map the text to a command (deterministic grammar; free text through the LLM when one is configured)."""
    result = parse_request(state["text"], Catalog.bundled(data=runtime.context.data_folders,
                                                          registered=_registered(_ws(runtime))),
                           runtime.context.llm)
    if isinstance(result, Clarify):
        return {"intent": "clarify", "status": "answer", "command": "",
                "message": result.message + ("\nDid you mean: " + " · ".join(result.suggestions)
                                             if result.suggestions else "")}
    understood = result.command()
    writer(0)({"step": "parse", "command": understood})
    return {"intent": result.intent, "command": understood, "request": _fields(result)}


def _registered(ws: Workspace) -> tuple[str, ...]:
    """Data sets with model versions (file-based ones too), so models/promote/rollback accept their names."""
    if not ws.db_path.exists():
        return ()
    return tuple(r[0] for r in ws.db().execute("SELECT DISTINCT dataset FROM models").fetchall())


def _fields(request: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: (str(v) if k == "data_path" else v) for k, v in asdict(request).items() if v is not None}


def answer(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Commands that start no run: help, diagnose, status, models, promote, rollback."""
    try:
        return answers.answer(state, runtime.context)
    except AutogetsError as exc:
        return {"status": "answer", "message": str(exc)}


@guarded
def start(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Record the run (validates the data set and class; a data file only if chat users may name it)."""
    ctx, req = runtime.context, state["request"]
    data_path = req.get("data_path")
    if data_path and not state.get("run_id"):
        try:
            data_path = str(data_file(data_path, ctx.data_folders))
        except DataFileRefused as exc:  # a request that did not come through the parser: refused, not failed
            return {"status": "answer", "message": f"Not started: {exc}."}
    spec = steps.RunSpec(dataset=req.get("dataset"), data_path=data_path, target=req.get("target"),
                         objective=req.get("objective", "cba"), goal=req.get("goal"),
                         budget=int(req.get("budget") or ctx.budget), generator=req.get("generator") or ctx.generator,
                         n_per_example=ctx.n_per_example, max_sources=ctx.max_sources, seed=ctx.seed,
                         classifier=ctx.classifier, requester=state["user"],
                         oba_tolerance=OBA_TOLERANCE if req.get("oba_tolerance") is None else req["oba_tolerance"])
    ws = _ws(runtime)
    try:
        run_id = state.get("run_id") or steps.create_run(ws, spec, run_id=state.get("new_run_id"),
                                                         max_active=ctx.runs_per_dataset)
    except RunConflict as exc:  # refused, not failed: no run was recorded
        return {"status": "answer", "message": f"Not started: {exc}."}
    ctx.notifier.notify("run_started", {"run_id": run_id, "dataset": steps.run_row(ws, run_id)["dataset"],
                                        "class": spec.target, "actor": state["user"], "command": state["command"],
                                        "conversation": state["conversation"]})
    return {"run_id": run_id, "status": "running"}


@guarded
def diagnose(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    writer(runtime.context.progress_interval)({"step": "diagnose", "run_id": state["run_id"]})
    steps.diagnose_step(_ws(runtime), state["run_id"])
    return {}


@guarded
def plan(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    from autogets.report import tolerance_sentence

    ws = _ws(runtime)
    data = steps.plan_step(ws, state["run_id"])
    guard = tolerance_sentence(steps.spec_of(ws, state["run_id"]).oba_tolerance)
    writer(0)({"step": "plan", "run_id": state["run_id"], "target": data["target"],
               "plan_source": data["plan_source"],
               "phases": [f"{p['strategy'].upper()} on {p['source']} ({p['objective']}): {p['reason']}"
                          for p in data["phases"]], **({"message": guard} if guard else {})})
    return {}


@guarded
def generate(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    from autogets.config import Settings
    from autogets.generators import make_generator

    ctx, ws = runtime.context, _ws(runtime)
    spec = steps.spec_of(ws, state["run_id"])
    gen = make_generator(spec.generator, Settings(workspace=ctx.workspace, seed=ctx.seed, llm=ctx.llm),
                         dataset=spec.dataset)
    emit = writer(ctx.progress_interval)
    steps.generate_step(ws, state["run_id"], gen, round=state.get("round", 0), hint=state.get("hint", ""),
                        progress=lambda _phase, done, total: emit({"step": "generate", "done": done,
                                                                  "total": total}))
    return {"page": 1}


def show_review(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Pick the page to show and tell the team once (the ``review`` node after it re-runs on every resume, so it
    must not notify); a run asked to stop meanwhile ends here."""
    ctx, ws, run_id = runtime.context, _ws(runtime), state["run_id"]
    if (actor := steps.cancel_requested(ws, run_id)) is not None:
        return _cancel(state, runtime, actor)
    if steps.pending_count(ws, run_id) == 0:
        return {"page": 1, "page_keys": [], "review_next": "search"}
    page = steps.review_page(ws, run_id, state.get("page", 1), ctx.page_size)
    ctx.notifier.notify("review_needed", {"run_id": run_id, "conversation": state["conversation"],
                                          "page": page["page"], "pending": page["totals"]["pending"]})
    return {"page": page["page"], "page_keys": [s["key"] for s in page["samples"]], "review_next": "review"}


def review(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Wait for a person's decision on the page ``show_review`` picked (``interrupt``); apply it on resume, to the
    samples the person saw: the decision names them (``keys``), and they must be that page's."""
    ctx, ws, run_id = runtime.context, _ws(runtime), state["run_id"]
    page = steps.review_page(ws, run_id, state.get("page", 1), ctx.page_size)
    shown = list(state.get("page_keys") or [s["key"] for s in page["samples"]])
    rounds_left = steps.MAX_REGENERATIONS - state.get("round", 0)
    payload = answers.review_payload(ws, run_id, page, rounds_left, state["user"])
    decision = interrupt(payload)
    # ---- side effects only after the interrupt returned ----
    if (asked := steps.cancel_requested(ws, run_id)) is not None:  # a cancel typed while another call held the
        return _cancel(state, runtime, asked)                       # thread: it wins over the decision
    action, user = decision.get("action", ""), decision.get("user") or ""
    if not ctx.policy.allows(user, "review", state["user"]):   # every front-end gets the same rule
        return {"message": ctx.policy.refusal(user, "review", f"run {run_id}", action=action,
                                              conversation=state.get("conversation")), "review_next": "review"}
    keys = list(decision.get("keys") or shown)
    if action not in ("cancel", "regenerate", "approve_all", "reject_all") and (
            keys != shown or not set(decision.get("ids", ())) <= set(keys)):
        return {"message": "That decision names samples other than the page's; nothing was applied.",
                "review_next": "review"}
    try:
        nxt = steps.apply_review(ws, run_id, action=action, ids=decision.get("ids", ()), page_keys=keys, actor=user)
    except ValueError as exc:
        return {"message": str(exc), "review_next": "review"}
    if nxt == "cancel":
        return _cancel(state, runtime, user)
    if nxt == "regenerate":
        if rounds_left <= 0:
            return {"message": f"No regenerations left (at most {steps.MAX_REGENERATIONS}).", "review_next": "review"}
        return {"round": state.get("round", 0) + 1, "hint": str(decision.get("hint", ""))[:HINT_CHARS], "page": 1,
                "message": "", "review_next": "generate"}
    if nxt == "next_page":
        return {"page": state.get("page", 1) + 1, "message": "", "review_next": "show"}
    if nxt == "same_page":  # a reject: the page waits again without the samples just decided
        left = [k for k in keys if k not in set(decision.get("ids", ()))]
        return {"page_keys": left, "message": "", "review_next": "review"} if left else \
            {"message": "", "review_next": "show"}
    return {"message": "", "review_next": "search" if nxt == "search" else "review"}


@guarded
def search(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    ctx = runtime.context
    emit = writer(ctx.progress_interval)
    best: dict[str, float] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        emit({"step": "search", "phase": phase, "done": done, "total": total, "best_gain": best.get(phase)})

    def on_phase(record: dict) -> None:
        writer(0)({"step": "search", "phase": record["phase"], "decision": record["decision"],
                   "accepted": record["accepted"], "added_texts": record["added_texts"]})

    steps.search_step(_ws(runtime), state["run_id"], executor=ctx.executor, progress=progress, on_phase=on_phase)
    return {}


@guarded
def report(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    writer(0)({"step": "report", "run_id": state["run_id"]})
    steps.report_step(_ws(runtime), state["run_id"])
    return {}


@guarded
def register(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    out = steps.register_step(_ws(runtime), state["run_id"], actor=state["user"])
    return {"model_id": out["model_id"], "status": "done" if out["model_id"] else "no_gain"}


def notify(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Tell the team, and phrase the final answer."""
    ws, ctx = _ws(runtime), runtime.context
    data = steps.step_result(ws, state["run_id"], "report") or {}
    message = answers.finished_message(data, state.get("model_id"))
    if state.get("model_id"):  # an MLflow server that was unreachable: said in the thread (the version is safe)
        from autogets.registry import Registry

        message += answers.mlflow_note(Registry(ws, mlflow_uri=None), state["model_id"])
    payload = {"run_id": state["run_id"], "dataset": data.get("dataset"), "class": data.get("class"),
               "model_id": state.get("model_id"), "gain": data.get("test", {}).get("class_cba_gain"),
               "interval": data.get("test", {}).get("interval"), "support": data.get("test", {}).get("support"),
               "actor": state["user"], "conversation": state["conversation"]}
    ctx.notifier.notify("finished", payload)
    if state.get("model_id"):
        ctx.notifier.notify("model_registered", payload)
    return {"message": message}


def approve_promotion(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Second approval before production (``AUTOGETS_PROMOTE_APPROVAL=1``): wait for an approver. Safe to run again
    after a crash: a version already in production is not promoted twice."""
    from autogets.registry import Registry

    model_id = state["model_id"]
    decision = interrupt({"kind": "promotion", "model_id": model_id, "requester": state["user"],
                          "description": f"Promote {model_id} to production? A second approver must agree.",
                          "token": f"promote:{model_id}"})
    user = decision.get("user", "")
    if not runtime.context.policy.allows(user, "approve promotion", state["user"]):
        return {"status": "awaiting_promotion",
                "message": runtime.context.policy.refusal(user, "approve promotion", model_id)}
    if decision.get("action") != "approve":
        return {"status": "answer", "message": f"{model_id} stays a candidate ({user} declined)."}
    registry = Registry(_ws(runtime))
    v = registry.get(model_id)
    if v.status == "production":  # re-run after a crash that followed the promotion: done already, not an error
        return {"status": "answer", "message": f"{v.id} is now in production for {v.dataset} (approved by {user})."}
    v = registry.promote(model_id, actor=user)
    runtime.context.notifier.notify("promoted", {"model_id": v.id, "dataset": v.dataset, "actor": user,
                                                 "requested_by": state["user"], "gain": v.summary.get("test_cba_gain"),
                                                 "interval": v.summary.get("interval"),
                                                 "conversation": state.get("conversation")})
    return {"status": "answer", "message": f"{v.id} is now in production for {v.dataset} (approved by {user})."
            + answers.mlflow_note(registry)}
