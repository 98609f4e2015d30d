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
    GeneratorOpt,
    IdColOpt,
    JsonOpt,
    LabelColOpt,
    MinClassOpt,
    NOpt,
    SeedOpt,
    TextColOpt,
    WorkspaceOpt,
    _generator,
    _load,
    _seed,
    _workspace,
    metrics_table,
    out,
    progress_bars,
)
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
            generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
            classifier: ClassifierOpt = "linear",
            executor: Annotated[str, typer.Option("--executor", help="local | serial | ray")] = "local",
            promote: Annotated[bool, typer.Option("--promote", help="Promote the new version to production.")]
            = False,
            actor: ActorOpt = "cli", workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """The main job: diagnose, plan, generate, search in phases, report on test vs M0, register the model.

    Example: autogets improve --dataset trec6 --class ABBR
    """
    from autogets.improve import improve as run_improve

    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    ws = _workspace(workspace)
    gen = _generator(generator, ws, ds.name)

    def show_plan(phases, source, cls) -> None:
        if json_out:
            return
        out.print(f"Goal: [bold]{escape_rich(goal or f'{objective}:{cls}')}[/] on {escape_rich(ds.name)}. "
                  f"Plan from the {source}:")
        for i, p in enumerate(phases):
            out.print(f"  {i + 1}. {escape_rich(p.label())}  [dim]— {escape_rich(p.reason)}[/]")

    def show_decision(d) -> None:
        if not json_out:
            colour = "green" if d.accepted else "yellow"
            out.print(f"  [{colour}]{escape_rich(d.phase.label())}: {escape_rich(d.reason)}[/] "
                      f"({d.evaluations} evaluations, {d.added_texts} texts added)")

    with progress_bars(not json_out) as progress:
        report = run_improve(ws, ds, target=target, objective=objective, goal=goal, budget=budget, generator=gen,
                             n_per_example=n, seed=_seed(seed), classifier=classifier, executor=executor,
                             promote=promote, actor=actor, progress=progress, on_plan=show_plan,
                             on_decision=show_decision)
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(metrics_table(f"Test split: improved vs M0 ({escape_rich(report.model_id)})", report.final_test,
                            baseline=report.m0_test, flagged=(report.target,)))
    out.print(f"{escape_rich(report.target)} test CBA {report.m0_test.value('cba', report.target):.3f} → "
              f"{report.final_test.value('cba', report.target):.3f} ([bold]{report.goal_gain_test():+.3f}[/]); "
              f"accuracy {report.m0_test.accuracy:.3f} → {report.final_test.accuracy:.3f}")
    state = "promoted to production" if report.promoted else (f"candidate; promote with `autogets models promote "
                                                               f"{report.model_id}`")
    out.print(escape_rich(f"Model {report.model_id}: {state}"))
    out.print(escape_rich(f"Report: {report.report_dir}/report.md  ({report.elapsed_seconds:.0f} s)"))
