"""One search job end to end (the issue's ``autogets search``): generate (cached) → features → strategy under a
budget on validation → the best candidate's single evaluation on test vs M0 → report folder and run records.

Returns a structured :class:`SearchReport`; progress goes to a callback; nothing is printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autogets.data import Dataset, split_dataset
from autogets.executor import Executor, using
from autogets.generators import Generator
from autogets.identity import DatasetId
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
from autogets.search import Budget, Evaluation, Evaluator, SearchResult, make_strategy, run_strategy
from autogets.search.objectives import Objective, make_objective, metric_value
from autogets.workspace import Workspace, atomic_folder, new_run_id, now_iso, write_json_atomic


@dataclass(frozen=True)
class SearchReport:
    run_id: str
    dataset: str
    target: str
    strategy: str
    objective: str
    result: SearchResult
    test_best: Metrics
    test_m0: Metrics
    generation: dict
    report_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    classifier: str = "linear"
    dataset_fp: str | None = None
    """The content fingerprint of the data set (with ``dataset``, its :attr:`identity`)."""

    @property
    def identity(self) -> DatasetId:
        return DatasetId(self.dataset, self.dataset_fp)

    @property
    def test_gain(self) -> float | None:
        """The objective's change from M0 to the best candidate on test (None for a multi-goal objective)."""
        try:
            return metric_value(self.test_best, self.objective, self.target) - metric_value(
                self.test_m0, self.objective, self.target)
        except KeyError:
            return None

    def to_dict(self) -> dict:
        r = self.result
        return {
            "run_id": self.run_id, "dataset": self.dataset, "class": self.target, "strategy": self.strategy,
            "objective": self.objective, "classifier": self.classifier, "stopped_because": r.stopped_because,
            "budget_spent": {"evaluations": r.evaluations, "fit_seconds": round(r.fit_seconds, 3)},
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "generation": self.generation,
            "best": evaluation_dict(r.best),
            "validation": {"m0": r.baseline.metrics.to_dict(), "best": r.best.metrics.to_dict(),
                           "gain": r.best.gain},
            "test": {"m0": self.test_m0.to_dict(), "best": self.test_best.to_dict(), "gain": self.test_gain},
            "best_so_far": np.maximum.accumulate(r.gains()).tolist() if r.history else [],
            "files": {k: str(v) for k, v in self.files.items()},
        }


def evaluation_dict(e: Evaluation) -> dict:
    return {"selected_source_ids": sorted(e.selection), "n_sources": len(e.selection), "n_synthetic": e.n_synthetic,
            "gain": e.gain, "margin": e.margin, "index": e.index}


def candidate_logger(ws: Workspace, run_id: str, strategy: str, objective: str, phase: int = 0):
    """A callback writing every charged candidate to the ``candidates`` table (batched commits)."""
    table = ws.db()["candidates"]
    buffer: list[dict] = []

    def log(e: Evaluation) -> None:
        buffer.append({"run_id": run_id, "idx": e.index, "phase": phase, "strategy": strategy,
                       "selection": json.dumps(sorted(e.selection)), "n_sources": len(e.selection),
                       "n_synthetic": e.n_synthetic, "objective": objective, "gain": e.gain,
                       "key": json.dumps(e.key), "metrics": json.dumps(e.metrics.to_dict()["per_class"]),
                       "fit_seconds": e.fit_seconds})
        if len(buffer) >= 50:
            flush()

    def flush() -> None:
        if buffer:
            with ws.db().conn:
                table.insert_all(buffer, replace=True)
            buffer.clear()

    log.flush = flush  # type: ignore[attr-defined]
    return log


def run_search(ws: Workspace, dataset: Dataset, *, target: str, strategy: str = "sw", objective: str = "cba",
               budget: Budget, generator: Generator, n_per_example: int = 5, seed: int = 42,
               search_seed: int = 42, classifier: str = "auto", executor: str | Executor = "local",
               progress: Progress | None = None, objective_obj: Objective | None = None) -> SearchReport:
    """Run one strategy for one class and write its report folder. ``executor``: a name, or a running executor
    shared by many searches (left open)."""
    import time

    from autogets.generators.cache import GenerationCache

    started, started_at = time.perf_counter(), now_iso()
    split = split_dataset(dataset, seed=seed)
    check_class(split, target)
    obj = objective_obj or make_objective(objective, target)
    strat = make_strategy(strategy, seed=search_seed)
    generation = synthesize_class(GenerationCache(ws.db()), generator, split, target, dataset=dataset.identity,
                                  n_per_example=n_per_example,
                                  seed=seed, progress=progress)
    from autogets.selection import resolve

    classifier, _ = resolve(classifier, split, target=target, seed=seed)  # auto: by cross-validation
    prepared = build_problem(split, generation.synthetic, target, classifier=classifier)
    m0 = fit_model(prepared, frozenset())
    view = class_views(split, m0, [target])[target]
    run_id = new_run_id()
    log = candidate_logger(ws, run_id, strategy, obj.name)
    total = budget.max_evaluations

    def on_eval(e: Evaluation) -> None:
        log(e)
        if progress:
            progress("search", e.index + 1, total)

    try:
        with using(executor) as pool:
            result = run_strategy(strat, view, Evaluator(prepared.problem, obj, budget, pool, on_evaluation=on_eval))
    finally:
        log.flush()
    best_model = fit_model(prepared, result.best.selection)
    report = SearchReport(run_id=run_id, dataset=dataset.name, target=target, strategy=strategy, objective=obj.name,
                          result=result, test_best=test_metrics(best_model, split), test_m0=test_metrics(m0, split),
                          generation=generation.summary(), report_dir=ws.report_dir("search", dataset.name, run_id),
                          elapsed_seconds=time.perf_counter() - started, classifier=classifier,
                          dataset_fp=dataset.fingerprint)
    files = write_search_report(report, view, prepared.synthetic)
    report = SearchReport(**{**report.__dict__, "files": files})
    write_json_atomic(report.report_dir / "report.json", report.to_dict())
    ws.record_run(run_id, "search", dataset, started_at=started_at, report_dir=report.report_dir,
                  params={"class": target, "strategy": strategy, "objective": obj.name, "seed": seed,
                          "search_seed": search_seed, "generator": generator.name, "n_per_example": n_per_example,
                          "budget_evaluations": budget.max_evaluations, "budget_seconds": budget.max_fit_seconds,
                          "classifier": classifier},
                  result={"validation_gain": result.best.gain, "test_gain": report.test_gain,
                          "evaluations": result.evaluations})
    return report


def write_search_report(report: SearchReport, view, synthetic) -> dict[str, Path]:
    """report.json (written by the caller), best_so_far.png, pca_map.png, per_class.png, samples.json."""
    from autogets.plots import best_so_far, pca_pair_map, per_class_bars

    r = report.result
    with atomic_folder(report.report_dir) as tmp:
        best_so_far({r.strategy: r.gains()}, tmp / "best_so_far.png",
                    title=f"{report.dataset} {report.target}: best {report.objective} gain so far ({r.strategy})")
        choice = r.best_window()
        pair = choice.pair if choice else (0, 1)
        selected = np.isin(view.pool_ids, sorted(r.best.selection))
        pca_pair_map(view.xy(pair), view.correct, tmp / "pca_map.png", pair=pair,
                     window=choice.window if choice else None, selected=selected,
                     others=view.other_coords[:, list(pair)],
                     title=f"{report.target} training points on PCA pair {pair} (red = M0 wrong)")
        per_class_bars({"M0 (test)": report.test_m0, f"{r.strategy} best (test)": report.test_best},
                       tmp / "per_class.png", metric="cba", title=f"{report.dataset}: per-class CBA on test")
        chosen = [s for s in synthetic if s.source_id in r.best.selection]
        write_json_atomic(tmp / "samples.json", [{"source_id": s.source_id, "text": s.text} for s in chosen[:50]])
    names = ("best_so_far.png", "pca_map.png", "per_class.png", "samples.json")
    return {n.split(".")[0]: report.report_dir / n for n in names}
