"""The main job, ``autogets improve``, in one process: the steps of :mod:`autogets.steps` in order
(create → diagnose → plan → generate → review → search → report → register), the same functions the agent's
graph nodes call. Without a reviewer every cleaned text is approved (``--review none``, the default for scripts);
with one, each page of samples is shown and decided before any text reaches training.

Structured result; progress via callbacks; nothing is printed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autogets import steps
from autogets.data import Dataset
from autogets.ensemble import Phase
from autogets.executor import Executor
from autogets.generators import Generator
from autogets.leases import release_run
from autogets.metrics import Metrics
from autogets.pipeline import Progress
from autogets.textfmt import escape_markdown
from autogets.workspace import Workspace, atomic_folder

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
                "elapsed_seconds": round(self.elapsed_seconds, 1)}


class Cancelled(Exception):
    """A reviewer cancelled the run."""


def improve(ws: Workspace, dataset: Dataset | None = None, *, spec: steps.RunSpec | None = None,
            target: str | None = None, objective: str = "cba", goal: str | None = None, budget: int = 200,
            generator: Generator, n_per_example: int = 5, seed: int = 42, classifier: str = "auto",
            executor: str | Executor = "local", promote: bool = False, actor: str = "cli", max_phases: int = 3,
            progress: Progress | None = None, reviewer: Reviewer | None = None, page_size: int = 10,
            on_plan: Callable[[list[Phase], str, str, str], None] | None = None,
            on_decision: Callable[[dict], None] | None = None) -> ImproveReport:
    """Run every step. ``spec`` describes the request (or ``dataset`` plus the keyword arguments for a bundled
    data set); ``reviewer`` decides review pages (None approves every cleaned text)."""
    started = time.perf_counter()
    if spec is None:
        if dataset is None:
            raise ValueError("improve needs a dataset or a spec")
        from autogets.data import BUNDLED, bundled_path

        bundled = dataset.name in BUNDLED and dataset.source == str(bundled_path(dataset.name))
        spec = steps.RunSpec(dataset=dataset.name if bundled else None, data_path=None if bundled else dataset.source,
                             target=target, objective=objective, goal=goal, budget=budget,
                             generator=generator.name, n_per_example=n_per_example, seed=seed,
                             classifier=classifier, max_phases=max_phases, requester=actor)
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
        steps.register_step(ws, run_id, actor=actor, promote=promote)
    except Cancelled:
        steps.cancel_run(ws, run_id)
        raise
    except BaseException as exc:
        steps.fail_run(ws, run_id, str(exc) or type(exc).__name__)
        raise
    finally:
        release_run(ws, run_id)  # the data set is free for the next run
    return load_report(ws, run_id, elapsed=time.perf_counter() - started)


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
    rounds = steps.latest_round(ws, run_id)
    generation = steps.step_result(ws, run_id, f"generate:{rounds}") or {}
    return ImproveReport(run_id=run_id, dataset=data["dataset"], target=data["class"], goal=data["goal"],
                         plan_source=data["plan_source"], phases=[Phase(**p) for p in plan["phases"]],
                         m0_test=m0_test, final_test=final_test, model_id=reg["model_id"],
                         promoted=reg["promoted"], generation=generation, report_dir=Path(data["report_dir"]),
                         data=data, files={k: Path(v) for k, v in data.get("files", {}).items()},
                         elapsed_seconds=elapsed, status="done" if reg["model_id"] else "no_gain")


def gain_sentence(data: dict) -> str:
    """The test gain of the class with its uncertainty, in words (CLI, report.md, chat)."""
    t = data["test"]
    lo, hi = t["interval"]
    text = (f"{data['class']} test CBA {t['rows'][_row(t, data['class'])]['cba_m0']:.3f} → "
            f"{t['rows'][_row(t, data['class'])]['cba_new']:.3f} ({t['class_cba_gain']:+.3f}; 95% bootstrap "
            f"interval {lo:+.3f} to {hi:+.3f}, {t['support']} test examples)")
    cv = cross_validated_gain(data)
    if t["few_examples"]:
        text += f"; too few test examples to confirm (under {steps.FEW_TEST_EXAMPLES}): read the interval"
        text += f" and the cross-validated estimate, {cv}" if cv else ", not the point estimate"
    elif cv:
        text += f"; cross-validated estimate {cv}"
    return text


def cross_validated_gain(data: dict) -> str:
    """The search's own estimate of the goal's gain over M0 (folds of train + validation), in words; "" when the
    fitness was the single validation split or no phase ran. Accepted phases add up; a reverted phase adds 0."""
    decisions = data.get("decisions") or []
    if data.get("selection", {}).get("fitness") != "cv" or not decisions:
        return ""
    before = decisions[0]["goal_before"]
    after = next((d["goal_after"] for d in reversed(decisions) if d["accepted"]), before)
    gain = after - before if data.get("changed") else 0.0
    return f"{gain:+.3f} ({data['goal']}, out-of-fold over train + validation)"


def classifier_sentence(data: dict) -> str:
    """Which classifier M0 (and the improved model) is, and why: e.g. "MiniLM + balanced ridge, chosen over
    TF-IDF + linear SVM by cross-validated macro CBA .899 vs .890"."""
    info = data.get("classifier") or {}
    if info.get("reason"):
        return info["reason"]
    from autogets.classifiers import describe

    return describe(info.get("name") or "linear")


def _row(t: dict, cls: str) -> int:
    return next(i for i, r in enumerate(t["rows"]) if r["class"] == cls)


def write_run_report(folder: Path, data: dict, m0_test: Metrics, final_test: Metrics, chosen: list,
                     pca: tuple[Any, dict | None] | None) -> dict[str, Path]:
    """report.md and the PNGs of method Part A §12, written atomically into ``folder``."""
    from autogets.plots import best_so_far, pca_pair_map, per_class_bars

    target = data["class"]
    with atomic_folder(folder) as tmp:
        per_class_bars({"M0 (test)": m0_test, "improved (test)": final_test}, tmp / "per_class.png",
                       metric="cba", highlight=(target,),
                       title=f"{data['dataset']}: per-class CBA on test, M0 vs improved")
        best_so_far({f"{i + 1}. {d['phase']}": d["best_so_far"] for i, d in enumerate(data["decisions"])},
                    tmp / "best_so_far.png", title="Best gain so far per phase (validation, phase objective)")
        files = {"markdown": folder / "report.md", "per_class": folder / "per_class.png",
                 "best_so_far": folder / "best_so_far.png"}
        if pca is not None:
            view, choice = pca
            pair = tuple(choice["pair"]) if choice else (0, 1)
            used = sorted({s.source_id for s in chosen if s.label == target})
            pca_pair_map(view.xy(pair), view.correct, tmp / "pca_map.png", pair=pair,
                         window=tuple(choice["window"]) if choice else None, others=view.other_coords[:, list(pair)],
                         selected=np.isin(view.pool_ids, used),
                         title=f"{target} training points, PCA pair {pair}\n(red = M0 wrong, circled = used)")
            files["pca_map"] = folder / "pca_map.png"
        (tmp / "report.md").write_text(render_markdown(data, chosen, has_map=pca is not None))
    return files


def render_markdown(data: dict, chosen: list, *, has_map: bool = True) -> str:
    t = data["test"]
    lines = [f"# AutoGeTS improve: {escape_markdown(data['dataset'])}, goal {escape_markdown(data['goal'])}", "",
             f"Run {data['run_id']}. Plan from the {data['plan_source']}.", "",
             f"M0: {escape_markdown(classifier_sentence(data))}.", "", "## Phases", "",
             "| # | phase | why | decision | evaluations | texts added |", "|---|---|---|---|---|---|"]
    for i, d in enumerate(data["decisions"]):
        lines.append(f"| {i + 1} | {escape_markdown(d['phase'])} | {escape_markdown(d['why'])} | "
                     f"{escape_markdown(d['decision'])} | {d['evaluations']} | {d['added_texts']} |")
    lines += ["", "## Test split: M0 vs improved", "", gain_sentence(data) + ".", "",
              "| class | support | CBA M0 | CBA new | Δ |", "|---|---|---|---|---|"]
    for r in t["rows"]:
        lines.append(f"| {escape_markdown(r['class'])} | {r['support']} | {r['cba_m0']:.3f} | {r['cba_new']:.3f} | "
                     f"{r['delta']:+.3f} |")
    lines += [f"| accuracy | | {t['accuracy_m0']:.3f} | {t['accuracy_new']:.3f} | "
              f"{t['accuracy_new'] - t['accuracy_m0']:+.3f} |", "",
              f"{len(chosen)} synthetic texts in the final training set. A sample:", ""]
    lines += [f"- {escape_markdown(s.text, max_len=300)} *(from example {s.source_id})*" for s in chosen[:10]]
    lines += ["", "![per-class CBA](per_class.png)", "![best so far](best_so_far.png)"]
    if has_map:
        lines.append("![PCA map](pca_map.png)")
    return "\n".join([*lines, ""])
