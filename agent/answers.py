"""Answers that start no run (help, diagnose, status, models, promote, rollback) and the words of the run's
messages (review page, final report). Plain functions of the workspace; the texts are plain (front-ends escape)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agent.context import AgentContext
from agent.datafiles import data_file
from agent.requests import HELP
from agent.state import AgentState
from autogets import steps
from autogets.errors import DataError, RegistryError
from autogets.identity import resolve
from autogets.registry import Registry
from autogets.runs import shown_status
from autogets.workspace import Workspace


def answer(state: AgentState, ctx: AgentContext) -> dict[str, Any]:
    req, ws = state.get("request", {}), ctx.ws
    intent = state["intent"]
    if intent == "help":
        return {"status": "answer", "message": HELP}
    if intent == "diagnose":
        return {"status": "answer", "message": diagnose_text(req, ctx)}
    if intent == "status":
        return {"status": "answer", "message": status_text(ws, req.get("run"))}
    if intent == "models":
        return {"status": "answer", "message": models_text(ws, req.get("dataset"))}
    if intent in ("promote", "rollback"):
        return change_production(ws, ctx, intent, req, state["user"], state.get("conversation", ""))
    if intent in ("cancel", "approve_all"):
        return {"status": "answer", "message": "Nothing in this thread waits for review."}
    return {"status": "answer", "message": HELP}


def diagnose_text(req: dict, ctx: AgentContext) -> str:
    from autogets.data import load_dataset
    from autogets.diagnose import diagnose

    path = data_file(req["data_path"], ctx.data_folders) if req.get("data_path") else None
    ds = load_dataset(req.get("dataset"), path=path)
    d = diagnose(ds, seed=ctx.seed, classifier=ctx.classifier)
    lines = [f"{ds.name}: M0 test accuracy {d.test.accuracy:.3f} (validation {d.validation.accuracy:.3f}).",
             f"M0: {d.classifier_reason}.",
             "class  support  recall  CBA  F1 (validation)"]
    for i, c in enumerate(d.validation.classes):
        lines.append(f"{c}  {d.validation.support[i]}  {d.validation.recall[i]:.3f}  {d.validation.cba[i]:.3f}  "
                     f"{d.validation.f1[i]:.3f}")
    weak = ", ".join(d.weak_classes) or "none"
    lines.append(f"Weak classes: {weak}. Improve one with: improve {d.weak_classes[0] if d.weak_classes else 'CLASS'} "
                 f"on {ds.name}")
    return "\n".join(lines)


def status_text(ws: Workspace, run_id: str | None) -> str:
    if not ws.db_path.exists():
        return "No runs yet."
    if run_id:
        row = steps.run_row(ws, run_id)
        done = [r[0] for r in ws.db().execute("SELECT step FROM run_steps WHERE run_id = ? ORDER BY at",
                                              [run_id]).fetchall()]
        result = json.loads(row["result"] or "{}")
        extra = f" error: {result['error']}" if result.get("error") else (
            f" model {result['model_id']}" if result.get("model_id") else "")
        return (f"Run {run_id} on {row['dataset']}: {shown_status(ws, row)}; steps done: {', '.join(done) or 'none'}."
                f"{extra}")
    rows = list(ws.db().query("SELECT id, kind, dataset, status, created_at FROM runs WHERE kind = 'improve' "
                              "ORDER BY created_at DESC LIMIT 5"))
    if not rows:
        return "No improve runs yet."
    return "Last runs:\n" + "\n".join(f"{r['id']}  {r['dataset']}  {shown_status(ws, r)}  {r['created_at']}"
                                       for r in rows)


def models_text(ws: Workspace, dataset: str | None) -> str:
    if not ws.db_path.exists():
        return "No model versions yet."
    versions = Registry(ws).list(dataset)
    if not versions:
        return f"No model versions for {dataset}." if dataset else "No model versions yet."
    lines = [f"{v.id}  {v.status}  {v.summary.get('goal', '')}  test CBA gain "
             f"{v.summary.get('test_cba_gain', 0):+.3f}  by {v.created_by} at {v.created_at}" for v in versions]
    return "\n".join(lines)


def change_production(ws: Workspace, ctx: AgentContext, intent: str, req: dict, user: str,
                      conversation: str) -> dict[str, Any]:
    """Promote a version or roll a data set back, if ``user`` may (the model's creator or an approver)."""
    registry = Registry(ws)
    try:
        if intent == "promote":
            version = registry.get(req["version"])
            if not ctx.policy.allows(user, "promote", version.created_by):
                return refusal(ctx.policy.refusal(user, "promote", version.id))
            if ctx.promote_approval:
                return {"status": "awaiting_promotion", "model_id": version.id,
                        "message": f"{version.id} waits for a second approval before production."}
            v = registry.promote(version.id, actor=user)
            ctx.notifier.notify("promoted", {"model_id": v.id, "dataset": v.dataset, "actor": user,
                                             "gain": v.summary.get("test_cba_gain"),
                                             "interval": v.summary.get("interval"), "conversation": conversation})
            return {"status": "answer", "model_id": v.id, "message": f"{v.id} is now in production for {v.dataset}."
                    + mlflow_note(registry)}
        dataset = resolve(ws.db(), req["dataset"])
        current = registry.production(dataset)
        if current is None:
            return {"status": "answer", "message": f"No production model for {req['dataset']} to roll back."}
        if not ctx.policy.allows(user, "roll back", current.created_by):
            return refusal(ctx.policy.refusal(user, "roll back", req["dataset"]))
        v = registry.rollback(dataset, actor=user)
        ctx.notifier.notify("rolled_back", {"model_id": v.id, "dataset": v.dataset, "actor": user,
                                            "previous": current.id, "conversation": conversation})
        return {"status": "answer", "model_id": v.id,
                "message": f"Rolled back: {v.id} is in production for {v.dataset} again (was {current.id})."
                + mlflow_note(registry)}
    except (RegistryError, DataError) as exc:
        return {"status": "answer", "message": str(exc)}


def mlflow_note(registry: Registry, model_id: str | None = None) -> str:
    """`` Note: MLflow sync pending (…)`` when MLflow is configured and the last sync of ``registry`` left work
    pending, or (``model_id``) that version is still waiting to be logged there; else ``""``. The registry change
    itself succeeded either way (issue 24)."""
    line = registry.mlflow_warning
    if line is None and model_id is not None:
        record = registry.get(model_id).summary.get("mlflow") or {}
        if record.get("state") == "pending":
            line = (f"MLflow sync pending ({record.get('last_error') or 'not done'}): {model_id} kept in our "
                    "registry; retried on the next registry change or `autogets models sync`")
    return f" Note: {line}" if line else ""


def refusal(sentence: str) -> dict[str, Any]:
    return {"status": "refused", "message": sentence}


def page_token(run_id: str, page: dict) -> str:
    blob = json.dumps([run_id, page["round"], page["page"], [s["key"] for s in page["samples"]]])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def review_payload(ws: Workspace, run_id: str, page: dict, rounds_left: int, requester: str) -> dict[str, Any]:
    """The interrupt's value, in the shape of LangGraph's human-interrupt requests: what is asked, what is
    allowed, and the page itself (ids and texts, the totals)."""
    row = steps.run_row(ws, run_id)
    plan = steps.step_result(ws, run_id, "plan") or {}
    return {
        "kind": "review", "action_request": {"action": "review_samples", "args": {"run_id": run_id}},
        "config": {"allow_accept": True, "allow_reject": True, "allow_regenerate": rounds_left > 0,
                   "allow_cancel": True},
        "description": f"Review synthetic {plan.get('target')} texts for {row['dataset']} before training "
                       f"(page {page['page']} of {page['pages']}).",
        "run_id": run_id, "dataset": row["dataset"], "target": plan.get("target"), "page": page["page"],
        "pages": page["pages"], "samples": page["samples"], "totals": page["totals"],
        "page_samples": page.get("page_samples", len(page["samples"])),
        "regenerations_left": rounds_left, "requester": requester, "token": page_token(run_id, page)}


def finished_message(data: dict, model_id: str | None) -> str:
    from autogets.report import gain_sentence

    if not data:
        return "The run finished without a report."
    from autogets.report import classifier_sentence, trade_sentence

    head = f"{gain_sentence(data)}. M0: {classifier_sentence(data)}."
    trade = trade_sentence(data, "add oba-tolerance {tolerance} to the improve command.")
    if model_id is None:
        return " ".join(filter(None, ["No gain: no synthetic text was accepted, the model is unchanged.", head,
                                      trade]))
    return " ".join(filter(None, [f"{head} Registered {model_id} (candidate) with {data['synthetic_texts']} "
                                  f"synthetic texts; promote it with: promote {model_id}.", trade]))
