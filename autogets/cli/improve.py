"""`autogets improve`: the main job."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from autogets.cli.common import (
    ActorOpt,
    ClassifierOpt,
    DataOpt,
    DatasetOpt,
    ExecutorOpt,
    GeneratorOpt,
    IdColOpt,
    JsonOpt,
    LabelColOpt,
    MinClassOpt,
    NOpt,
    ObaToleranceOpt,
    RayAddressOpt,
    SeedOpt,
    TextColOpt,
    WorkspaceOpt,
    _classifier,
    _existing_workspace,
    _generator,
    _load,
    _seed,
    _workspace,
    err,
    metrics_table,
    note_other_contents,
    out,
    print_mlflow,
    progress_bars,
)
from autogets.search.robust import OBA_TOLERANCE
from autogets.textfmt import escape_rich


def improve(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
            label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
            target: Annotated[str | None, typer.Option("--class", "-c", help="Class to improve (default: the "
                                                       "weakest from the diagnosis).")] = None,
            objective: Annotated[str, typer.Option("--objective", "-o", help="cba | recall | f1 | precision | oba | "
                                                   "overall_f1")] = "cba",
            goal: Annotated[str | None, typer.Option("--goal", help='Several goals, e.g. "recall:ABBR,recall:LOC".')]
            = None,
            budget: Annotated[int, typer.Option("--budget", help="Candidate evaluations per phase.", min=1)] = 200,
            budget_seconds: Annotated[float | None, typer.Option(
                "--budget-seconds", help="Also stop each phase after this many seconds of fit time.", min=0.001)]
            = None,
            max_phases: Annotated[int, typer.Option("--max-phases", help="At most this many phases.", min=1)] = 3,
            max_sources: Annotated[int | None, typer.Option(
                "--max-sources", help="Generate for at most this many source examples per class.", min=1)] = None,
            generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
            classifier: ClassifierOpt = None,
            fitness: Annotated[str, typer.Option(help="cv (5 folds × 2 of train + validation) | validation")]
            = "cv",
            accept: Annotated[str, typer.Option(help="paired (a gain above noise across folds) | no_drop (the "
                                                     "paper's rule)")] = "paired",
            oba_tolerance: ObaToleranceOpt = OBA_TOLERANCE,
            refit: Annotated[str, typer.Option(help="train+validation | train: real rows of the registered model "
                                                    "and of the report's M0")] = "train+validation",
            executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
            review: Annotated[str, typer.Option("--review", help="none (approve every cleaned text) | ask (review "
                                                "each page in the terminal)")] = "none",
            promote: Annotated[bool, typer.Option("--promote", help="Promote the new version to production.")]
            = False,
            actor: ActorOpt = "cli", workspace: WorkspaceOpt = None, json_out: JsonOpt = False,
            resume: Annotated[str | None, typer.Option("--resume", help="Continue a stopped run (its id from "
                                                       "`autogets runs list`) from its last finished step.")]
            = None) -> None:
    """The main job: diagnose, plan, generate, review, search in phases, report on test vs M0, register the model.

    Example: autogets improve --dataset trec6 --class ABBR
    """
    from autogets.cli.review import ask_terminal
    from autogets.errors import ConfigError
    from autogets.improve import Cancelled
    from autogets.improve import improve as run_improve
    from autogets.report import tolerance_sentence
    from autogets.steps import RunSpec

    if review not in ("none", "ask"):
        raise ConfigError(f"--review must be none or ask, not {review!r}")
    ws = _existing_workspace(workspace) if resume is not None else _workspace(workspace)
    if resume is not None:  # the run's own request: data, class, generator and settings
        from autogets.steps import spec_of

        spec = spec_of(ws, resume)
        ds, generator, goal, objective = spec.load(), spec.generator, spec.goal, spec.objective
    else:
        ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
        note_other_contents(ws, ds)
        spec = RunSpec(dataset=dataset, data_path=str(data) if data else None, text_col=text_col,
                       label_col=label_col, id_col=id_col, min_class_size=min_class_size, target=target,
                       objective=objective, goal=goal, budget=budget, budget_seconds=budget_seconds,
                       max_phases=max_phases, max_sources=max_sources, generator=generator, n_per_example=n,
                       seed=_seed(seed), classifier=_classifier(classifier), requester=actor, fitness=fitness,
                       accept=accept, oba_tolerance=oba_tolerance, refit=refit)
    gen = _generator(generator, ws, ds.name)

    def show_plan(phases, source, cls, classifier) -> None:
        if json_out:
            return
        out.print(f"M0: [bold]{escape_rich(classifier)}[/]")
        out.print(f"Goal: [bold]{escape_rich(goal or f'{objective}:{cls}')}[/] on {escape_rich(ds.name)}. "
                  f"Plan from the {source}:")
        for i, p in enumerate(phases):
            out.print(f"  {i + 1}. {escape_rich(p.label())}  [dim]— {escape_rich(p.reason)}[/]")
        if guard := tolerance_sentence(spec.oba_tolerance):
            out.print(escape_rich(guard))

    def show_decision(d: dict) -> None:
        if not json_out:
            colour = "green" if d["accepted"] else "yellow"
            reused = f", {d['reused']} reused" if d.get("reused") else ""
            out.print(f"  [{colour}]{escape_rich(d['phase'])}: {escape_rich(d['decision'])}[/] ({d['evaluations']} "
                      f"evaluations{reused}, {d['added_texts']} texts added)")

    reviewer = ask_terminal(err) if review == "ask" else None
    from autogets.executor import make_executor

    pool = make_executor(executor, address=ray_address)  # a bad executor fails here, before any work
    try:
        with progress_bars(not json_out) as progress:
            report = run_improve(ws, spec=spec, generator=gen, executor=pool, promote=promote, actor=actor,
                                 progress=progress, reviewer=reviewer, on_plan=show_plan, on_decision=show_decision,
                                 resume=resume)
    except Cancelled as exc:
        err.print(f"autogets: run {exc.args[0]} cancelled at review; nothing was trained or registered")
        raise typer.Exit(1) from None
    finally:
        pool.close()
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
        return
    print_report(report)


def print_report(report) -> None:
    """The test table, the gain with its interval, the model and where the report is (also used by chat)."""
    from autogets.report import gain_sentence, trade_sentence

    out.print(metrics_table(f"Test split: improved vs M0 ({escape_rich(report.model_id or 'model unchanged')})",
                            report.final_test, baseline=report.m0_test, flagged=(report.target,)))
    out.print(escape_rich(gain_sentence(report.data)) + "; accuracy "
              f"{report.m0_test.accuracy:.3f} → {report.final_test.accuracy:.3f}")
    if report.model_id is None:
        out.print("No gain: no synthetic text was accepted, the model is unchanged (nothing registered).")
    else:
        state = "promoted to production" if report.promoted else (
            f"candidate; promote with `autogets models promote {report.model_id}`")
        if report.data.get("same_as"):
            state += " (the same recipe as this existing version: not registered again)"
        out.print(escape_rich(f"Model {report.model_id}: {state}"))
    if trade := trade_sentence(report.data, "run again with --oba-tolerance {tolerance}."):
        out.print(escape_rich(trade))
    out.print(escape_rich(f"Report: {report.report_dir}/report.md  ({report.elapsed_seconds:.0f} s)"))
    print_mlflow(report.mlflow)
