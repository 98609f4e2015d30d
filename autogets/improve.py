"""The main job, ``autogets improve``, in one process: the steps of :mod:`autogets.steps` in order
(create → diagnose → plan → generate → review → search → report → register), the same functions the agent's
graph nodes call. Without a reviewer every cleaned text is approved (``--review none``, the default for scripts);
with one, each page of samples is shown and decided before any text reaches training.

Structured result; progress via callbacks; nothing is printed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from autogets import steps
from autogets.data import Dataset
from autogets.ensemble import Phase
from autogets.executor import Executor
from autogets.generators import Generator
from autogets.leases import release_run
from autogets.metrics import Metrics
from autogets.pipeline import Progress
from autogets.report import classifier_sentence
from autogets.workspace import Workspace

Reviewer = Callable[[dict], dict]
"""Shown a review page (:func:`autogets.steps.review_page`), returns a decision
``{"action": ..., "ids": [sample keys], "hint": "..."}``."""


@dataclass(frozen=True)
class ImproveReport:
    run_id: str
    dataset: str
    target: str
    goal: str
    plan_source: str
    phases: list[Phase]
    m0_test: Metrics
    final_test: Metrics
    model_id: str | None
    promoted: bool
    generation: dict
    report_dir: Path
    data: dict = field(default_factory=dict, repr=False)
    files: dict[str, Path] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    status: str = "done"
    mlflow: dict | None = None
    """What the MLflow sync after registering did (``line``, ``ok``, …), when MLflow is configured."""

    def goal_gain_test(self) -> float:
        return self.final_test.value("cba", self.target) - self.m0_test.value("cba", self.target)

    @property
    def interval(self) -> tuple[float, float]:
        lo, hi = self.data["test"]["interval"]
        return float(lo), float(hi)

    @property
    def support(self) -> int:
        return int(self.data["test"]["support"])

    def to_dict(self) -> dict:
        return {**{k: v for k, v in self.data.items() if k not in ("recipe",)}, "model_id": self.model_id,
                "promoted": self.promoted, "status": self.status, "generation": self.generation,
                "elapsed_seconds": round(self.elapsed_seconds, 1),
                **({"mlflow": self.mlflow} if self.mlflow is not None else {})}


class Cancelled(Exception):
    """A reviewer cancelled the run."""


def improve(ws: Workspace, dataset: Dataset | None = None, *, spec: steps.RunSpec | None = None,
            target: str | None = None, objective: str = "cba", goal: str | None = None, budget: int = 200,
            generator: Generator, n_per_example: int = 5, seed: int = 42, classifier: str = "auto",
            executor: str | Executor = "local", promote: bool = False, actor: str = "cli", max_phases: int = 3,
            progress: Progress | None = None, reviewer: Reviewer | None = None, page_size: int = 10,
            on_plan: Callable[[list[Phase], str, str, str], None] | None = None,
            on_decision: Callable[[dict], None] | None = None, resume: str | None = None) -> ImproveReport:
    """Run every step. ``spec`` describes the request (or ``dataset`` plus the keyword arguments for a bundled
    data set); ``reviewer`` decides review pages (None approves every cleaned text). ``resume``: the id of a run that
    stopped (its process killed, or a step failed) — it continues from its last finished step."""
    started = time.perf_counter()
    if resume is not None:
        run_id = reopen(ws, resume)
    elif spec is None:
        if dataset is None:
            raise ValueError("improve needs a dataset or a spec")
        from autogets.data import is_bundled_source

        bundled = is_bundled_source(dataset.name, dataset.source)
        spec = steps.RunSpec(dataset=dataset.name if bundled else None, data_path=None if bundled else dataset.source,
                             target=target, objective=objective, goal=goal, budget=budget,
                             generator=generator.name, n_per_example=n_per_example, seed=seed,
                             classifier=classifier, max_phases=max_phases, requester=actor)
    if resume is None:
        run_id = steps.create_run(ws, spec)
    try:
        diagnosis = steps.diagnose_step(ws, run_id)
        plan = steps.plan_step(ws, run_id)
        if on_plan:  # phases, where the plan came from, the class, and which classifier M0 is and why
            on_plan([Phase(**p) for p in plan["phases"]], plan["plan_source"], plan["target"],
                    classifier_sentence({"classifier": {"name": diagnosis.get("classifier"),
                                                        "reason": diagnosis.get("classifier_reason")}}))
        steps.generate_step(ws, run_id, generator, progress=progress)
        review_all(ws, run_id, generator, reviewer=reviewer, actor=actor, page_size=page_size, progress=progress)
        steps.search_step(ws, run_id, executor=executor, progress=progress, on_phase=on_decision)
        steps.report_step(ws, run_id)
        registered = steps.register_step(ws, run_id, actor=actor, promote=promote)
    except Cancelled:
        steps.cancel_run(ws, run_id)
        raise
    except BaseException as exc:
        steps.fail_run(ws, run_id, str(exc) or type(exc).__name__)
        raise
    finally:
        release_run(ws, run_id)  # the data set is free for the next run
    report = load_report(ws, run_id, elapsed=time.perf_counter() - started)
    return replace(report, mlflow=registered.get("mlflow")) if registered.get("mlflow") else report


def reopen(ws: Workspace, run_id: str) -> str:
    """Take up run ``run_id`` again in this process: it must be an ``improve`` run that has not finished and that no
    other process is working on (:class:`~autogets.errors.RunConflict` names the one that is)."""
    from autogets.leases import claim_existing

    row = steps.run_row(ws, run_id)
    if row["kind"] != "improve":
        raise steps.RunStateError(f"run {run_id} is a {row['kind']} run; only improve runs resume")
    if row["status"] in ("done", "no_gain", "cancelled"):
        raise steps.RunStateError(f"run {run_id} already finished ({row['status']}); nothing to resume")
    if row["status"] == "failed":
        steps.set_status(ws, run_id, "running")
    claim_existing(ws, run_id)
    return run_id


def review_all(ws: Workspace, run_id: str, generator: Generator, *, reviewer: Reviewer | None, actor: str,
               page_size: int = 10, progress: Progress | None = None) -> None:
    """Decide every generated text: all approved without a reviewer, else page by page."""
    if reviewer is None:
        steps.approve_all(ws, run_id, actor=actor)
        return
    page, round_ = 1, steps.latest_round(ws, run_id)
    while steps.pending_count(ws, run_id):
        shown = steps.review_page(ws, run_id, page, page_size)
        shown["regenerations_left"] = steps.MAX_REGENERATIONS - round_
        decision = reviewer(shown)
        nxt = steps.apply_review(ws, run_id, action=decision["action"], ids=decision.get("ids", ()),
                                 page_keys=[s["key"] for s in shown["samples"]], actor=actor)
        if nxt == "cancel":
            raise Cancelled(run_id)
        if nxt == "regenerate" and round_ < steps.MAX_REGENERATIONS:
            round_ += 1
            steps.generate_step(ws, run_id, generator, round=round_, hint=decision.get("hint", ""),
                                progress=progress)
            page = 1
        elif nxt == "next_page":
            page = shown["page"] + 1


def load_report(ws: Workspace, run_id: str, elapsed: float = 0.0) -> ImproveReport:
    """The finished run's report, from the workspace."""
    data = steps.step_result(ws, run_id, "report")
    plan = steps.step_result(ws, run_id, "plan")
    reg = steps.step_result(ws, run_id, "register") or {"model_id": None, "promoted": False}
    if data is None or plan is None:
        raise steps.RunStateError(f"run {run_id} has no report yet")
    m0_test, final_test = steps.metrics_of(data)
    folder = ws.stored_report_dir(data["report_dir"])  # where it is now, if the workspace moved since
    rounds = steps.latest_round(ws, run_id)
    generation = steps.step_result(ws, run_id, f"generate:{rounds}") or {}
    return ImproveReport(run_id=run_id, dataset=data["dataset"], target=data["class"], goal=data["goal"],
                         plan_source=data["plan_source"], phases=[Phase(**p) for p in plan["phases"]],
                         m0_test=m0_test, final_test=final_test, model_id=reg["model_id"],
                         promoted=reg["promoted"], generation=generation, report_dir=folder,
                         data={**data, "same_as": reg.get("same_as"), "report_dir": str(folder),
                               "files": {k: str(folder / Path(v).name) for k, v in data.get("files", {}).items()}},
                         files={k: folder / Path(v).name for k, v in data.get("files", {}).items()},
                         elapsed_seconds=elapsed, status="done" if reg["model_id"] else "no_gain")


