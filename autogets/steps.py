"""The main job in steps: create → diagnose → plan → generate → review → search → report → register.

``autogets improve`` runs them in one process; the agent runs each in its own graph node, possibly in another
process after a restart. So every step reads what it needs from the workspace under the run id and writes its
result there (:mod:`autogets.runs`, table ``run_steps``), and a step that already finished returns its stored
result instead of working again. Only ids and small JSON values travel between steps; models and matrices are rebuilt
(deterministically) or saved as files in the run's report folder. Review bookkeeping is :mod:`autogets.review`,
report rendering :mod:`autogets.report`; their public names are re-exported here for the callers of the steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autogets.data import Split
from autogets.errors import GenerationError, GenerationStopped
from autogets.executor import Executor, using
from autogets.generators import Generator
from autogets.generators.cache import GenerationCache
from autogets.metrics import cba_gain_interval
from autogets.pipeline import (
    Prepared,
    Progress,
    build_problem,
    class_views,
    fit_model,
    real_rows,
    synthesize_class,
)
from autogets.report import FEW_TEST_EXAMPLES, metrics_of, write_run_report
from autogets.review import (
    MAX_REGENERATIONS,
    REVIEW_ACTIONS,
    apply_review,
    approve_all,
    approved_synthetic,
    decide,
    discard_pending,
    latest_round,
    pending_count,
    review_page,
    review_totals,
    sample_key,
)
from autogets.runs import (
    RunSpec,
    RunStateError,
    cancel_requested,
    cancel_run,
    classifier_of,
    create_run,
    fail_run,
    get_step,
    need_step,
    put_step,
    request_cancel,
    run_identity,
    run_row,
    run_split,
    set_status,
    spec_of,
    step_result,
)
from autogets.workspace import Workspace, json_default, write_json_atomic

__all__ = ["FEW_TEST_EXAMPLES", "MAX_REGENERATIONS", "REVIEW_ACTIONS", "RunSpec", "RunStateError", "apply_review",
           "approve_all", "approved_synthetic", "cancel_requested", "cancel_run", "classifier_of", "create_run",
           "decide", "diagnose_step", "fail_run", "generate_step", "latest_round", "metrics_of", "pending_count",
           "plan_step", "register_step", "report_step", "request_cancel", "review_page", "review_totals", "run_row",
           "sample_key", "search_step", "spec_of", "step_result"]


def diagnose_step(ws: Workspace, run_id: str) -> dict:
    """M0 on validation: weak classes and the class to improve (the weakest when none was asked for)."""
    if (done := get_step(ws, run_id, "diagnose")) is not None:
        return done
    from autogets.diagnose import diagnose

    spec = spec_of(ws, run_id)
    ds, split = run_split(ws, run_id)
    set_status(ws, run_id, "running")
    target = spec.target
    if spec.goal:
        from autogets.search.objectives import parse_goal

        target = parse_goal(spec.goal, spec.target).target
    diagnosis = diagnose(ds, seed=spec.seed, classifier=spec.classifier, split=split, target=target)
    val = diagnosis.validation
    if target is None:
        target = (diagnosis.weak_classes or [val.classes[int(np.argmin(val.cba))]])[0]
    return put_step(ws, run_id, "diagnose", {
        "dataset": ds.name, "target": target, "weak_classes": list(diagnosis.weak_classes),
        "train_counts": {k: int(v) for k, v in diagnosis.train_counts.items()},
        "val_recall": {c: float(val.recall[i]) for i, c in enumerate(val.classes)},
        "val_cba": {c: float(val.cba[i]) for i, c in enumerate(val.classes)},
        "val_accuracy": float(val.accuracy), "rule": diagnosis.rule, "classifier": diagnosis.classifier,
        "classifier_reason": diagnosis.classifier_reason,
        "classifier_choice": diagnosis.choice.to_dict() if diagnosis.choice else None})


def plan_step(ws: Workspace, run_id: str) -> dict:
    """Phases (source class, strategy, objective) and why: from the knowledge map or the default rules."""
    if (done := get_step(ws, run_id, "plan")) is not None:
        return done

    from autogets.ensemble import plan_phases
    from autogets.knowledge import plan_cells
    from autogets.search.objectives import MetricObjective, make_objective, parse_goal

    spec, diag = spec_of(ws, run_id), need_step(ws, run_id, "diagnose")
    target = diag["target"]
    goal_obj = parse_goal(spec.goal, target) if spec.goal else make_objective(spec.objective, target)
    goal_classes = [target] if isinstance(goal_obj, MetricObjective) else [c for _, c in goal_obj.goals]
    metric_of = {target: spec.objective} if isinstance(goal_obj, MetricObjective) else {
        c: m for m, c in goal_obj.goals}
    knowledge, which = plan_cells(ws, run_identity(ws, run_id), seed=spec.seed, classifier=classifier_of(ws, run_id),
                                  generator=spec.generator)
    phases, source = [], "default rules"
    for cls in dict.fromkeys(goal_classes):
        more, source = plan_phases(cls, metric_of[cls], train_counts=diag["train_counts"],
                                   val_recall=diag["val_recall"], knowledge=knowledge, max_phases=spec.max_phases)
        phases.extend(more)
    source = (f"knowledge map ({which})" if source == "knowledge map"
              else f"default rules (no knowledge-map cell of {which})")
    phases = phases[:max(spec.max_phases, len(dict.fromkeys(goal_classes)))]
    goal_text = spec.goal or f"{spec.objective}:{target}"
    return put_step(ws, run_id, "plan", {
        "target": target, "goal": goal_text, "plan_source": source,
        "phases": [{"source": p.source, "strategy": p.strategy, "objective": p.objective, "reason": p.reason}
                   for p in phases]})


def generate_step(ws: Workspace, run_id: str, generator: Generator, *, round: int = 0, hint: str = "",
                  progress: Progress | None = None) -> dict:
    """Synthetic texts for every source class of the plan (cached), listed for review as round ``round``.

    Round 0 is the first generation; a regeneration (round ≥ 1, optionally with a ``hint``) asks the generator
    for new texts under a new cache variant, and the earlier round's undecided texts are set aside (discarded,
    not rejected). Texts rejected before on this data set are left out and counted.
    """
    step = f"generate:{round}"
    if (done := get_step(ws, run_id, step)) is not None:
        return done
    if round > MAX_REGENERATIONS:
        raise RunStateError(f"at most {MAX_REGENERATIONS} regenerations per run")
    spec, plan = spec_of(ws, run_id), need_step(ws, run_id, "plan")
    ds, split = run_split(ws, run_id)
    cache = GenerationCache(ws.db())
    sources = dict(zip(split.train["id"].astype(int), split.train["text"], strict=True))
    variant = f"round{round}:{hint}" if round else ""
    rows, summaries, dropped, failed = [], {}, {}, []
    for cls in dict.fromkeys(p["source"] for p in plan["phases"]):
        try:
            result = synthesize_class(cache, generator, split, cls, dataset=ds.identity,
                                      n_per_example=spec.n_per_example, seed=spec.seed + 1000 * round,
                                      fold_seed=spec.seed, folds=spec.folds, repeats=spec.repeats,
                                      max_sources=spec.max_sources, progress=progress, variant=variant, hint=hint)
        except GenerationError as exc:  # every example that needed the model failed (a server down, no key)
            raise GenerationStopped(f"{exc}; once the generator works again, resume the run (or run it again: "
                                    "texts already generated are reused)") from None
        failed += result.failed
        summaries[cls] = result.summary()
        for reason, n in result.report.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        rows += [(s, sample_key(s, sources[s.source_id])) for s in result.synthetic]
    if failed:  # a server that went away mid-run: stop rather than train on fewer texts than asked for
        kept = sum(v["generated_now"] + v["from_cache"] for v in summaries.values())
        raise GenerationStopped(f"{len(failed)} of {kept + len(failed)} source examples failed to generate (first "
                                f"error: {failed[0][1]}); the texts of the other {kept} are kept in the cache, so "
                                "resuming (or running it again) generates only the missing ones")
    # Review order: spread over source examples (one text of each source before a second of any).
    rows.sort(key=lambda r: (r[0].sample_index, r[0].label, r[0].source_id))
    db = ws.db()
    with db.conn:
        if round:
            discard_pending(ws, run_id, actor="regenerate", before_round=round)  # safe to run again
        db["run_samples"].insert_all([
            {"run_id": run_id, "key": key, "round": round, "position": i, "source_id": s.source_id,
             "sample_index": s.sample_index, "label": s.label, "text": s.text, "source_text": sources[s.source_id],
             "generator": s.generator, "model": s.model, "prompt_version": s.prompt_version,
             "shown": json.dumps(s.shown) if s.shown else None}
            for i, (s, key) in enumerate(rows)], ignore=True)
    generated = sum(v["cleaning"]["total"] for v in summaries.values())
    return put_step(ws, run_id, step, {
        "round": round, "hint": hint, "generator": generator.name, "model": generator.model,
        "totals": {"generated": generated, "kept": len(rows), "dropped": dropped},
        "generated_now": sum(v["generated_now"] for v in summaries.values()),
        "from_cache": sum(v["from_cache"] for v in summaries.values()), "by_class": summaries})


# --- search --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Problem:
    spec: RunSpec
    split: Split
    prepared: Prepared
    keys: tuple[str, ...]       # sample key of each synthetic row, in row order


def _problem(ws: Workspace, run_id: str) -> _Problem:
    spec, plan = spec_of(ws, run_id), need_step(ws, run_id, "plan")
    _, split = run_split(ws, run_id)
    approved = approved_synthetic(ws, run_id)
    prepared = build_problem(split, [s for _, s in approved], plan["target"], classifier=classifier_of(ws, run_id),
                             fitness=spec.fitness, folds=spec.folds, repeats=spec.repeats, seed=spec.seed)
    return _Problem(spec, split, prepared, tuple(k for k, _ in approved))


def _chosen_rows(p: _Problem, chosen_keys: Sequence[str]) -> np.ndarray:
    n_real = len(p.split.train) + len(p.split.validation)
    row_of = {k: n_real + i for i, k in enumerate(p.keys)}
    return np.array(sorted(row_of[k] for k in chosen_keys if k in row_of), dtype=np.int64)


def search_step(ws: Workspace, run_id: str, *, executor: str | Executor = "local",
                progress: Progress | None = None, on_phase: Callable[[dict], None] | None = None) -> dict:
    """Run the plan's phases on the approved texts (validation only), phase by phase; each finished phase is
    stored, and each candidate's raw result too, so an interrupted search resumes where it stopped."""
    if (done := get_step(ws, run_id, "search")) is not None:
        return done
    from autogets.ensemble import Phase, run_phases
    from autogets.knowledge import record_result
    from autogets.search import Budget
    from autogets.search.objectives import make_objective, parse_goal

    plan = need_step(ws, run_id, "plan")
    p = _problem(ws, run_id)
    spec, target = p.spec, plan["target"]
    phases = [Phase(**ph) for ph in plan["phases"]]
    records: list[dict] = (get_step(ws, run_id, "search:phases") or {}).get("phases", [])
    started = time.perf_counter()
    if not p.keys:
        return put_step(ws, run_id, "search", {"phases": [], "chosen_keys": [], "evaluations": 0, "reused": 0,
                                           "note": "no approved synthetic texts"})
    goal = parse_goal(spec.goal, target) if spec.goal else make_objective(spec.objective, target)
    m0 = fit_model(p.prepared, frozenset())
    views = class_views(p.split, m0, [target, *(ph.source for ph in phases)], seed=spec.seed)
    problem = p.prepared.problem
    known = _known_evaluations(ws, run_id)
    pending_raw: list[dict] = []

    def on_raw(k: int, selection: frozenset[int], raw: tuple) -> None:
        pending_raw.append({"run_id": run_id, "phase": k, "selection": json.dumps(sorted(selection)),
                            "raw": json.dumps([np.asarray(raw[0]).tolist(), *raw[1:]], default=json_default)})
        if len(pending_raw) >= 20:
            _flush(ws, pending_raw)

    def on_eval(k: int, e) -> None:
        if progress:
            progress(f"phase {k + 1}/{len(phases)}: {phases[k].label()}", e.index + 1, spec.budget)

    def on_decision(d) -> None:
        _flush(ws, pending_raw)
        record = {**d.to_dict(), "reused": d.reused, "fit_seconds": d.result.fit_seconds,
                  "selection": sorted(d.result.best.selection) if d.accepted else None, "window": _window(d.result)}
        records.append(record)
        put_step(ws, run_id, "search:phases", {"phases": records})
        if len(records) == 1:  # a production run fills the knowledge map too (method Part A §10)
            record_result(ws, d.result, dataset=run_identity(ws, run_id), target=d.phase.source,
                          objective=d.phase.objective, seed=spec.seed, generator=spec.generator, budget=spec.budget,
                          test_gain=None, run_id=run_id, classifier=classifier_of(ws, run_id))
        if on_phase:
            on_phase(record)

    def budget() -> Budget:
        return Budget(max_evaluations=spec.budget, max_fit_seconds=spec.budget_seconds)

    with using(executor) as pool:
        outcome = run_phases(problem, views, goal, phases, budget=budget, executor=pool, seed=spec.seed,
                             on_evaluation=on_eval, on_decision=on_decision,
                             completed=[frozenset(r["selection"]) if r["selection"] else None for r in records],
                             known=lambda k: known.get(k, {}), on_raw=on_raw,
                             rule=spec.accept_rule(), winner=spec.winner)
    _flush(ws, pending_raw)
    n_real = len(p.split.train) + len(p.split.validation)
    chosen = [p.keys[r - n_real] for r in outcome.base_rows if r >= n_real]
    return put_step(ws, run_id, "search", {
        "phases": records, "chosen_keys": chosen, "final_check": outcome.final_check, "fitness": spec.fitness,
        "evaluations": sum(r["evaluations"] for r in records),
        "reused": sum(r["reused"] for r in records), "fit_seconds": sum(r["fit_seconds"] for r in records),
        "seconds": time.perf_counter() - started})


def _window(result) -> dict | None:
    """Where the best candidate of a window strategy lay (for the PCA map), as plain numbers."""
    w = result.best_window()
    return None if w is None else {"pair": [int(v) for v in w.pair], "window": [float(v) for v in w.window]}


def _flush(ws: Workspace, rows: list[dict]) -> None:
    if rows:
        with ws.db().conn:
            ws.db()["evaluations"].insert_all(rows, ignore=True)
        rows.clear()


def _known_evaluations(ws: Workspace, run_id: str) -> dict[int, dict[frozenset[int], tuple]]:
    out: dict[int, dict[frozenset[int], tuple]] = {}
    for phase, selection, raw in ws.db().execute(
            "SELECT phase, selection, raw FROM evaluations WHERE run_id = ?", [run_id]).fetchall():
        matrix, *rest = json.loads(raw)
        out.setdefault(int(phase), {})[frozenset(json.loads(selection))] = (np.asarray(matrix, dtype=np.int64),
                                                                              *rest)
    return out


def report_step(ws: Workspace, run_id: str) -> dict:
    """Fit M0 and the chosen model, score both once on the **test** split, write the report folder (markdown,
    PNGs, report.json) and the model file. The gain carries its test support and a bootstrap interval."""
    if (done := get_step(ws, run_id, "report")) is not None:
        return done
    from autogets.pipeline import test_metrics
    from autogets.registry import save_artifact

    plan, search = need_step(ws, run_id, "plan"), need_step(ws, run_id, "search")
    row = run_row(ws, run_id)
    target = plan["target"]
    p = _problem(ws, run_id) if search["chosen_keys"] or search["phases"] else None
    spec = spec_of(ws, run_id)
    if p is None:  # nothing approved: M0 only
        _, split = run_split(ws, run_id)
        from autogets.classifiers import make_classifier

        known = split.train if spec.refit == "train" else pd.concat([split.train, split.validation])
        m0_model = make_classifier(classifier_of(ws, run_id)).fit(known["text"].tolist(), known["label"].tolist())
        final_model, split_used, chosen = m0_model, split, []
        plain = build_problem(split, [], target, classifier=classifier_of(ws, run_id), fitness=spec.fitness,
                              folds=spec.folds, repeats=spec.repeats, seed=spec.seed).problem
        held_out = held_out_metrics(plain, plain.real(), plain.real())
    else:  # the model a user gets, and the M0 it is compared with, are fitted on the same real rows (refit)
        real = real_rows(p.prepared.problem, spec.refit)
        m0_model = fit_model(p.prepared, frozenset(), base_rows=real)
        rows = _chosen_rows(p, search["chosen_keys"])
        base = np.concatenate([real, rows]) if len(rows) else None
        final_model = fit_model(p.prepared, frozenset(), base_rows=base) if base is not None else m0_model
        split_used = p.split
        key_set = set(search["chosen_keys"])
        chosen = [s for k, s in approved_synthetic(ws, run_id) if k in key_set]
        problem = p.prepared.problem
        held_out = held_out_metrics(problem, problem.real(), np.concatenate([problem.real(), rows]))
    m0_test, final_test = test_metrics(m0_model, split_used), test_metrics(final_model, split_used)
    y = split_used.test["label"].to_numpy()
    texts = split_used.test["text"].tolist()
    lo, hi = cba_gain_interval(y, m0_model.predict(texts), final_model.predict(texts), target)
    gain = final_test.value("cba", target) - m0_test.value("cba", target)
    support = int(m0_test.support[m0_test.index(target)])
    changed = bool(chosen)
    folder = ws.stored_report_dir(row["report_dir"])
    diag = need_step(ws, run_id, "diagnose")
    data = {
        "run_id": run_id, "dataset": row["dataset"], "class": target, "goal": plan["goal"],
        "classifier": {"name": classifier_of(ws, run_id), "reason": diag.get("classifier_reason", ""),
                       "choice": diag.get("classifier_choice")},
        "plan_source": plan["plan_source"], "plan": [{"phase": f"{ph['strategy'].upper()} on {ph['source']} "
                                                              f"({ph['objective']})", "why": ph["reason"]}
                                                     for ph in plan["phases"]],
        "decisions": search["phases"], "changed": changed, "synthetic_texts": len(chosen),
        "sample": [{"source_id": s.source_id, "text": s.text} for s in chosen[:10]],
        "selection": {"fitness": spec.fitness, "accept": spec.accept, "refit": spec.refit, "winner": spec.winner,
                      "oba_tolerance": spec.oba_tolerance, "final_check": search.get("final_check", "")},
        "budget": {"evaluations": search.get("evaluations", 0), "reused": search.get("reused", 0),
                   "fit_seconds": round(search.get("fit_seconds", 0.0), 2)},
        "test": {"m0": m0_test.to_dict(), "final": final_test.to_dict(), "class_cba_gain": gain,
                 "interval": [lo, hi], "support": support, "few_examples": support < FEW_TEST_EXAMPLES,
                 "accuracy_m0": m0_test.accuracy, "accuracy_new": final_test.accuracy,
                 "rows": [{"class": c, "support": int(m0_test.support[i]), "cba_m0": float(m0_test.cba[i]),
                           "cba_new": float(final_test.cba[i]), "delta": float(final_test.cba[i] - m0_test.cba[i])}
                          for i, c in enumerate(m0_test.classes)]},
        "held_out": held_out, "report_dir": str(folder),
    }
    files = write_run_report(folder, data, m0_test, final_test, chosen, _pca_view(p, m0_model, target, search))
    model_path = folder / "model.joblib"
    if changed:
        save_artifact(final_model, model_path)
    data["files"] = {k: str(v) for k, v in files.items()}
    data["model_file"] = str(model_path) if changed else None
    real_ids = split_used.train["id"].tolist() + ([] if spec.refit == "train" else split_used.validation["id"].tolist())
    data["recipe"] = {"split_seed": spec.seed, "refit": spec.refit, "real_train_ids": real_ids,
                      "classifier": classifier_of(ws, run_id),
                      "synthetic": [{"source_id": s.source_id, "sample_index": s.sample_index, "label": s.label,
                                     "generator": s.generator, "model": s.model,
                                     "prompt_version": s.prompt_version, "text": s.text} for s in chosen]}
    write_json_atomic(folder / "report.json", {k: v for k, v in data.items() if k != "recipe"})
    return put_step(ws, run_id, "report", data)


def held_out_metrics(problem, m0_rows: np.ndarray, final_rows: np.ndarray) -> dict:
    """M0's and the final training set's metrics on rows none of their models trained on, named as what they are
    (issue 23 item 4): ``"cross_validated"`` — pooled out-of-fold over train + validation (fitness ``cv``), the held-out
    rows' synthetic children left out as in the search — or ``"validation"`` — fitted on train (+ synthetic), scored
    on validation (fitness ``validation``). The reported models themselves are refitted on train + validation, so
    scoring them on validation would score them on their own training rows."""
    from dataclasses import replace

    from autogets.metrics import metrics_from_confusion
    from autogets.search.evaluator import fit_candidate

    def measure(rows: np.ndarray) -> dict:
        matrix = np.asarray(fit_candidate(replace(problem, base_rows=rows), ())[0])
        pooled = matrix.sum(axis=0) if matrix.ndim == 3 else matrix
        return metrics_from_confusion(pooled, problem.classes).to_dict()

    real = problem.real()
    final = np.concatenate([real, final_rows[final_rows >= problem.n_real]])
    return {"kind": "cross_validated" if problem.fitness == "cv" else "validation", "m0": measure(real),
            "final": measure(final)}


def _pca_view(p: _Problem | None, m0_model, target: str, search: dict):
    if p is None:
        return None
    view = class_views(p.split, m0_model, [target], seed=p.spec.seed)[target]
    choice = next((r["window"] for r in search["phases"] if r["source"] == target and r.get("window")), None)
    return view, choice


def register_step(ws: Workspace, run_id: str, *, actor: str, promote: bool = False) -> dict:
    """Register the report's model as a candidate version (once per run, even if called again after a crash). With
    MLflow configured the result also has ``mlflow``: what the sync after it did (:mod:`autogets.mlflow_sync`)."""
    if (done := get_step(ws, run_id, "register")) is not None:
        return done
    from autogets.registry import Registry

    report = need_step(ws, run_id, "report")
    registry, dataset = Registry(ws), run_identity(ws, run_id)
    if not report["changed"]:
        set_status(ws, run_id, "no_gain", {"model_id": None, "test_cba_gain": 0.0})
        write_json_atomic(ws.stored_report_dir(report["report_dir"]) / "report.json",
                          {**{k: v for k, v in report.items() if k != "recipe"}, "model_id": None, "promoted": False})
        return put_step(ws, run_id, "register", {"model_id": None, "promoted": False})
    existing = registry.for_run(run_id)
    same = None if existing else registry.with_recipe(dataset, report["recipe"])
    model_file = ws.stored_report_dir(report["report_dir"]) / Path(report["model_file"]).name
    version = existing or same or registry.register_file(
        model_file, dataset=dataset, recipe=report["recipe"],
        metrics_validation=report["held_out"]["final"], metrics_test=report["test"]["final"], actor=actor,
        summary={"goal": report["goal"], "run_id": run_id, "class": report["class"],
                 "test_cba_gain": report["test"]["class_cba_gain"], "interval": report["test"]["interval"],
                 "test_support": report["test"]["support"], "test_accuracy": report["test"]["accuracy_new"],
                 "classifier": (report.get("classifier") or {}).get("name"),
                 "held_out": report["held_out"]["kind"],
                 "synthetic_texts": report["synthetic_texts"]})
    promoted = False
    if promote:  # promoted: the version is production after this run (it may already have been: same recipe)
        current = registry.production(dataset)
        if current is None or current.id != version.id:
            registry.promote(version.id, actor=actor)
        promoted = True
    reused = {"same_as": version.id} if same is not None else {}  # an identical recipe: not registered twice
    set_status(ws, run_id, "done", {"model_id": version.id, "test_cba_gain": report["test"]["class_cba_gain"],
                                    **reused})
    write_json_atomic(ws.stored_report_dir(report["report_dir"]) / "report.json",
                      {**{k: v for k, v in report.items() if k != "recipe"}, "model_id": version.id,
                       "promoted": promoted, **reused})
    done = put_step(ws, run_id, "register", {"model_id": version.id, "promoted": promoted, **reused})
    if registry.mlflow_status is not None:  # this call's MLflow sync (not stored: the registry row says what is synced)
        done = {**done, "mlflow": registry.mlflow_status.to_dict()}
    return done


