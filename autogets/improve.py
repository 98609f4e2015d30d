"""The main job, ``autogets improve``: diagnose → plan → generate (cached) → phases → test report vs M0 →
register a candidate model version (and promote it if asked). Structured result; progress via callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autogets.data import Dataset, split_dataset
from autogets.diagnose import diagnose
from autogets.ensemble import Decision, EnsembleOutcome, Phase, plan_phases, run_phases
from autogets.executor import Executor, using
from autogets.generators import Generator
from autogets.generators.cache import GenerationCache
from autogets.knowledge import cells, record_result
from autogets.metrics import Metrics
from autogets.pipeline import (
    Progress,
    build_problem,
    check_class,
    class_views,
    fit_model,
    synthesize_class,
    test_metrics,
)
from autogets.registry import Registry
from autogets.search import Budget
from autogets.search.objectives import MetricObjective, Objective, make_objective, parse_goal
from autogets.textfmt import escape_markdown as md
from autogets.workspace import Workspace, atomic_folder, new_run_id, now_iso, write_json_atomic


@dataclass(frozen=True)
class ImproveReport:
    run_id: str
    dataset: str
    target: str
    goal: str
    plan_source: str
    phases: list[Phase]
    decisions: list[Decision]
    m0_test: Metrics
    final_test: Metrics
    m0_validation: Metrics
    final_validation: Metrics
    model_id: str
    promoted: bool
    generation: dict
    report_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    def goal_gain_test(self) -> float:
        return self.final_test.value("cba", self.target) - self.m0_test.value("cba", self.target)

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id, "dataset": self.dataset, "class": self.target, "goal": self.goal,
            "plan_source": self.plan_source, "plan": [{"phase": p.label(), "why": p.reason} for p in self.phases],
            "decisions": [d.to_dict() for d in self.decisions], "model_id": self.model_id,
            "promoted": self.promoted, "generation": self.generation, "elapsed_seconds": round(self.elapsed_seconds, 1),
            "validation": {"m0": self.m0_validation.to_dict(), "final": self.final_validation.to_dict()},
            "test": {"m0": self.m0_test.to_dict(), "final": self.final_test.to_dict(),
                     "class_cba_gain": self.goal_gain_test(),
                     "accuracy_gain": self.final_test.accuracy - self.m0_test.accuracy},
            "files": {k: str(v) for k, v in self.files.items()},
        }


def improve(ws: Workspace, dataset: Dataset, *, target: str | None = None, objective: str = "cba",
            goal: str | None = None, budget: int = 200, generator: Generator, n_per_example: int = 5, seed: int = 42,
            classifier: str = "linear", executor: str | Executor = "local", promote: bool = False, actor: str = "cli",
            max_phases: int = 3, progress: Progress | None = None,
            on_plan: Callable[[list[Phase], str, str], None] | None = None,
            on_decision: Callable[[Decision], None] | None = None) -> ImproveReport:
    started, started_at = time.perf_counter(), now_iso()
    split = split_dataset(dataset, seed=seed)
    diagnosis = diagnose(dataset, seed=seed, classifier=classifier, split=split)
    goal_obj: Objective
    if goal:
        goal_obj = parse_goal(goal, target)
        target = goal_obj.target
    else:
        if target is None:
            order = diagnosis.weak_classes or [diagnosis.validation.classes[int(np.argmin(diagnosis.validation.cba))]]
            target = order[0]
        check_class(split, target)
        goal_obj = make_objective(objective, target)
    goal_text = goal or f"{objective}:{target}"
    val = diagnosis.validation
    recall = {c: float(val.recall[i]) for i, c in enumerate(val.classes)}
    knowledge = cells(ws, dataset.name)
    goal_classes = [c for _, c in goal_obj.goals] if not isinstance(goal_obj, MetricObjective) else [target]
    phases: list[Phase] = []
    plan_source = "default rules"
    for cls in dict.fromkeys(goal_classes):
        check_class(split, cls)
        metric = objective if isinstance(goal_obj, MetricObjective) else dict(
            (c, m) for m, c in goal_obj.goals)[cls]
        more, plan_source = plan_phases(cls, metric, train_counts=diagnosis.train_counts, val_recall=recall,
                                        knowledge=knowledge, max_phases=max_phases)
        phases.extend(more)
    if on_plan:
        on_plan(phases, plan_source, target)

    cache = GenerationCache(ws.db())
    synthetic, summaries = [], {}
    for cls in dict.fromkeys(p.source for p in phases):
        result = synthesize_class(cache, generator, split, cls, n_per_example=n_per_example, seed=seed,
                                  progress=progress)
        synthetic.extend(result.synthetic)
        summaries[cls] = result.summary()
    prepared = build_problem(split, synthetic, target, classifier=classifier)
    m0 = fit_model(prepared, frozenset())
    views = class_views(split, m0, [target, *(p.source for p in phases)])
    run_id = new_run_id()

    def on_eval(k: int, e) -> None:
        if progress:
            progress(f"phase {k + 1}: {phases[k].label()}", e.index + 1, budget)

    with using(executor) as pool:
        outcome: EnsembleOutcome = run_phases(
            prepared.problem, views, goal_obj, phases, budget=lambda: Budget(max_evaluations=budget), executor=pool,
            seed=seed, on_evaluation=on_eval, on_decision=on_decision)
    first = outcome.decisions[0] if outcome.decisions else None
    if first is not None:  # a production run fills the knowledge map too (method Part A §10)
        record_result(ws, first.result, dataset=dataset.name, target=first.phase.source,
                      objective=first.phase.objective, seed=seed, generator=generator.name, budget=budget,
                      test_gain=None, run_id=run_id)
    final = fit_model(prepared, frozenset(), base_rows=outcome.base_rows)
    m0_test, final_test = test_metrics(m0, split), test_metrics(final, split)
    cba_gain = final_test.value("cba", target) - m0_test.value("cba", target)

    n_real = len(split.train)
    synth_index = {n_real + len(split.validation) + k: s for k, s in enumerate(prepared.synthetic)}
    chosen = [synth_index[r] for r in outcome.base_rows[n_real:]]
    recipe = {"split_seed": seed, "real_train_ids": split.train["id"].tolist(),
              "synthetic": [{"source_id": s.source_id, "sample_index": s.sample_index, "label": s.label,
                             "generator": s.generator, "model": s.model, "prompt_version": s.prompt_version,
                             "text": s.text} for s in chosen]}
    registry = Registry(ws)
    version = registry.register(final, dataset=dataset.name, recipe=recipe,
                                metrics_validation=outcome.final_validation.to_dict(),
                                metrics_test=final_test.to_dict(), actor=actor,
                                summary={"goal": goal_text, "run_id": run_id, "class": target,
                                         "test_cba_gain": cba_gain,
                                         "test_accuracy": final_test.accuracy, "synthetic_texts": len(chosen)})
    if promote:
        registry.promote(version.id, actor=actor)
    report = ImproveReport(run_id=run_id, dataset=dataset.name, target=target, goal=goal_text,
                           plan_source=plan_source, phases=phases, decisions=outcome.decisions, m0_test=m0_test,
                           final_test=final_test, m0_validation=outcome.m0_validation,
                           final_validation=outcome.final_validation, model_id=version.id, promoted=promote,
                           generation=summaries, report_dir=ws.report_dir("improve", dataset.name, run_id),
                           elapsed_seconds=time.perf_counter() - started)
    files = write_improve_report(report, views[target], chosen)
    report = ImproveReport(**{**report.__dict__, "files": files})
    write_json_atomic(report.report_dir / "report.json", report.to_dict())
    ws.record_run(run_id, "improve", dataset.name, started_at=started_at, report_dir=report.report_dir,
                  params={"goal": goal_text, "budget": budget, "seed": seed, "generator": generator.name,
                          "n_per_example": n_per_example},
                  result={"model_id": version.id, "test_cba_gain": cba_gain})
    return report


def write_improve_report(report: ImproveReport, view, chosen) -> dict[str, Path]:
    from autogets.plots import best_so_far, pca_pair_map, per_class_bars

    with atomic_folder(report.report_dir) as tmp:
        per_class_bars({"M0 (test)": report.m0_test, "improved (test)": report.final_test}, tmp / "per_class.png",
                       metric="cba", highlight=(report.target,),
                       title=f"{report.dataset}: per-class CBA on test, M0 vs improved")
        best_so_far({f"{i + 1}. {d.phase.label()}": d.result.gains() for i, d in enumerate(report.decisions)},
                    tmp / "best_so_far.png", title="Best gain so far per phase (validation, phase objective)")
        accepted_ids = {s.source_id for s in chosen if s.label == report.target}
        choice = None
        for d in report.decisions:
            if d.phase.source == report.target and d.result.best_window():
                choice = d.result.best_window()
                break
        pair = choice.pair if choice else (0, 1)
        pca_pair_map(view.xy(pair), view.correct, tmp / "pca_map.png", pair=pair,
                     window=choice.window if choice else None, others=view.other_coords[:, list(pair)],
                     selected=np.isin(view.pool_ids, sorted(accepted_ids)),
                     title=f"{report.target} training points, PCA pair {pair}\n(red = M0 wrong, circled = used)")
        (tmp / "report.md").write_text(render_markdown(report, chosen))
    return {"markdown": report.report_dir / "report.md", "per_class": report.report_dir / "per_class.png",
            "best_so_far": report.report_dir / "best_so_far.png", "pca_map": report.report_dir / "pca_map.png"}


def render_markdown(report: ImproveReport, chosen) -> str:
    lines = [f"# AutoGeTS improve: {report.dataset}, goal {report.goal}", "",
             f"Model version **{report.model_id}** ({'promoted to production' if report.promoted else 'candidate'}).",
             f"Plan from the {report.plan_source}.", "", "## Phases", "",
             "| # | phase | why | decision | evaluations | texts added |", "|---|---|---|---|---|---|"]
    for i, d in enumerate(report.decisions):
        lines.append(f"| {i + 1} | {md(d.phase.label())} | {md(d.phase.reason)} | {md(d.reason)} | {d.evaluations} | "
                     f"{d.added_texts} |")
    lines += ["", "## Test split: M0 vs improved", "",
              "| class | support | CBA M0 | CBA new | Δ | recall M0 | recall new | precision new | F1 new |",
              "|---|---|---|---|---|---|---|---|---|"]
    a, b = report.m0_test, report.final_test
    for i, c in enumerate(a.classes):
        lines.append(f"| {md(c)} | {a.support[i]} | {a.cba[i]:.3f} | {b.cba[i]:.3f} | {b.cba[i] - a.cba[i]:+.3f} | "
                     f"{a.recall[i]:.3f} | {b.recall[i]:.3f} | {b.precision[i]:.3f} | {b.f1[i]:.3f} |")
    lines += [f"| overall | {a.support.sum()} | OBA {a.oba:.3f} | OBA {b.oba:.3f} | {b.oba - a.oba:+.3f} | "
              f"acc {a.accuracy:.3f} | acc {b.accuracy:.3f} | | |", "",
              f"{len(chosen)} synthetic texts in the final training set. A sample:", ""]
    lines += [f"- {md(s.text, max_len=300)} *(from example {s.source_id})*" for s in chosen[:10]]
    lines += ["", "![per-class CBA](per_class.png)", "![best so far](best_so_far.png)", "![PCA map](pca_map.png)", ""]
    return "\n".join(lines)
