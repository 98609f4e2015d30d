"""`autogets search`: one strategy on one class."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from autogets.cli.common import (
    ClassifierOpt,
    ClassOpt,
    DataOpt,
    DatasetOpt,
    ExecutorOpt,
    GeneratorOpt,
    IdColOpt,
    JsonOpt,
    LabelColOpt,
    MinClassOpt,
    NOpt,
    RayAddressOpt,
    SeedOpt,
    TextColOpt,
    WorkspaceOpt,
    _classifier,
    _generator,
    _load,
    _seed,
    _workspace,
    metrics_table,
    note_other_contents,
    out,
    progress_bars,
)
from autogets.textfmt import escape_rich


def search(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
           label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
           target: ClassOpt = ..., strategy: Annotated[str, typer.Option("--strategy", "-s",
                                                                         help="sw | hsw | ga | random")] = "sw",
           objective: Annotated[str, typer.Option("--objective", "-o", help="cba | oba | recall | f1 | precision | "
                                                  "overall_f1")] = "cba",
           budget: Annotated[int | None, typer.Option("--budget", help="Candidate evaluations.", min=1)] = None,
           budget_seconds: Annotated[float | None, typer.Option("--budget-seconds",
                                                                help="Seconds of classifier-fit time.")] = None,
           generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
           search_seed: Annotated[int, typer.Option("--search-seed", help="Seed of Random and GA.")] = 42,
           classifier: ClassifierOpt = None,
           executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
           workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Search which synthetic texts to add for one class, on validation, then report the best on test vs M0.

    Example: autogets search --dataset trec6 --class ABBR --strategy sw --objective cba --budget 169
    """
    from autogets.executor import make_executor
    from autogets.search import Budget
    from autogets.search.run import run_search

    classifier = _classifier(classifier)  # a bad name or module:factory fails here, before any work
    pool = make_executor(executor, address=ray_address)  # so does a bad executor (nothing starts before use)
    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    if budget is None and budget_seconds is None:
        budget = 500
    bud = Budget(max_evaluations=budget, max_fit_seconds=budget_seconds)
    ws = _workspace(workspace)
    note_other_contents(ws, ds)
    gen = _generator(generator, ws, ds.name)
    with progress_bars(not json_out) as progress, pool:
        report = run_search(ws, ds, target=target, strategy=strategy, objective=objective, budget=bud,
                            generator=gen, n_per_example=n, seed=_seed(seed), search_seed=search_seed,
                            classifier=classifier, executor=pool, progress=progress)
    payload = report.to_dict()
    if json_out:
        out.print_json(json.dumps(payload))
        return
    r = report.result
    out.print(f"{strategy.upper()} on {escape_rich(ds.name)} {escape_rich(target)}, objective {objective}: "
              f"{r.evaluations} evaluations, "
              f"{r.fit_seconds:.1f} s of fit time, stopped: {r.stopped_because}")
    out.print(f"Best on validation: {r.best.gain:+.4f} {objective} with {len(r.best.selection)} source examples "
              f"({r.best.n_synthetic} synthetic texts)")
    out.print(metrics_table(f"Test split: best ({strategy}) vs M0", report.test_best, baseline=report.test_m0,
                            flagged=(target,)))
    gain = report.test_gain
    out.print(f"Test {objective} gain for {escape_rich(target)}: [bold]{gain:+.4f}[/]" if gain is not None else "")
    out.print(escape_rich(f"Report: {report.report_dir}"))
