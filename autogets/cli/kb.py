"""`autogets kb`: the knowledge map."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.table import Table

from autogets.cli.common import (
    ClassifierOpt,
    DataOpt,
    DatasetOpt,
    ExecutorOpt,
    GeneratorOpt,
    JsonOpt,
    LabelColOpt,
    NOpt,
    SeedOpt,
    TextColOpt,
    WorkspaceOpt,
    _classifier,
    _existing_workspace,
    _generator,
    _load,
    _seed,
    _workspace,
    note_other_contents,
    out,
)
from autogets.errors import DataError
from autogets.textfmt import escape_rich, visible_controls

kb_app = typer.Typer(no_args_is_help=True, help="The knowledge map: which strategy works for which class.")


def _gain(value: float | None) -> str:
    """A signed gain, or ``n/a`` where there is none (e.g. no test gain: ``improve`` tests only its final model)."""
    return "n/a" if value is None or math.isnan(value) else f"{value:+.4f}"


@kb_app.command("build")
def kb_build(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
             label_col: LabelColOpt = "label",
             budget: Annotated[int, typer.Option("--budget", help="Evaluations per cell.", min=1)] = 100,
             target: Annotated[list[str] | None, typer.Option("--class", "-c", help="Only these classes.")] = None,
             strategy: Annotated[list[str] | None, typer.Option("--strategy", "-s")] = None,
             objective: Annotated[list[str] | None, typer.Option("--objective", "-o")] = None,
             generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
             executor: ExecutorOpt = "local", classifier: ClassifierOpt = None,
             workspace: WorkspaceOpt = None) -> None:
    """Run the systematic experiments (class × strategy × objective); finished cells are skipped.

    Example: autogets kb build --dataset trec6 --budget 100
    """
    from autogets.knowledge import KB_OBJECTIVES, KB_STRATEGIES, build

    ds = _load(dataset, data, text_col, label_col, None, None)
    ws = _workspace(workspace)
    note_other_contents(ws, ds)
    gen = _generator(generator, ws, ds.name)

    def on_cell(cell, skipped) -> None:
        label = escape_rich(f"{cell['class']:>6} {cell['strategy']:>6} {cell['objective']:>4}")
        if skipped:
            out.print(f"  {label}: [dim]already in the map[/]")
        else:
            out.print(f"  {label}: validation gain {_gain(cell['val_gain'])}, test gain {_gain(cell['test_gain'])}")

    frame = build(ws, ds, budget=budget, generator=gen, classes=target, strategies=strategy or KB_STRATEGIES,
                  objectives=objective or KB_OBJECTIVES, seed=_seed(seed), n_per_example=n, executor=executor,
                  classifier=_classifier(classifier), on_cell=on_cell)
    out.print(escape_rich(f"Knowledge map of {ds.name}: {len(frame)} cells. Show it with `autogets kb show --dataset "
                          f"{ds.name}`"))


@kb_app.command("show")
def kb_show(dataset: DatasetOpt = None, workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Print the knowledge map of a data set, one row per cell with the mean validation and test gains over the
    cell's n observations (test gain n/a where none was tested), and write a heat-map PNG.

    Example: autogets kb show --dataset trec6
    """
    from autogets.knowledge import cells, heatmap

    if dataset is None:
        raise DataError("say which data set: --dataset NAME")
    from autogets.identity import resolve

    ws = _existing_workspace(workspace)
    frame = cells(ws, resolve(ws.db(), dataset))
    if frame.empty:
        raise DataError(f"the knowledge map has nothing for {dataset!r}; run `autogets kb build --dataset {dataset}`")
    if json_out:
        out.print_json(frame.drop(columns=["effects"]).to_json(orient="records"))
        return
    table = Table(title=f"Knowledge map: {escape_rich(dataset)}", title_justify="left")
    for col in ("class", "strategy", "objective", "generator", "budget", "n", "val gain", "test gain", "evals"):
        table.add_column(col)
    for _, r in frame.sort_values(["class", "objective", "val_gain"], ascending=[True, True, False]).iterrows():
        table.add_row(escape_rich(r["class"]), r["strategy"], r["objective"], escape_rich(r["generator"]),
                      str(r["budget"]), str(r["n"]),
                      _gain(r["val_gain"]), _gain(r["test_gain"]), f"{r['evaluations']:.0f}")
    out.print(table)
    if not ws.writable():
        out.print(f"[dim]Heat map not written: workspace {escape_rich(str(ws.root))} is read-only[/]")
        return
    for objective in sorted(set(frame["objective"])):
        path = heatmap(frame, ws.path("reports", f"kb-{visible_controls(dataset, keep='')}-{objective}.png"),
                       objective=objective)
        out.print(escape_rich(f"Heat map: {path}"))
