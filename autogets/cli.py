"""The ``autogets`` command. Thin: each command parses options, calls the library and renders the result.

Errors a user can cause (:class:`autogets.errors.AutogetsError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autogets import __version__
from autogets.config import Settings, load_settings
from autogets.data import BUNDLED, Dataset, load_dataset
from autogets.errors import AutogetsError, DataError, WorkspaceError
from autogets.metrics import Metrics
from autogets.workspace import Workspace, new_run_id, now_iso

try:  # typer >= 0.20 vendors its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Improve a text classifier's weak classes with LLM-generated data chosen by search.")
# Pipes and CI logs get 120 columns (rich would pick 80 and squeeze the per-class tables).
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

# Options shared by several commands, declared once.
DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="Bundled data set name (see `datasets`).")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV, JSONL or Parquet file with labelled texts.")]
TextColOpt = Annotated[str, typer.Option("--text-col", help="Text column of --data.")]
LabelColOpt = Annotated[str, typer.Option("--label-col", help="Label column of --data.")]
IdColOpt = Annotated[str | None, typer.Option("--id-col", help="Integer id column (default: row number).")]
MinClassOpt = Annotated[int | None, typer.Option("--min-class-size", help="Drop classes with fewer examples.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Split seed (default 42 or AUTOGETS_SEED).")]
WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", help="Workspace folder (default ./.autogets "
                                                                      "or AUTOGETS_HOME).")]
ClassifierOpt = Annotated[str, typer.Option("--classifier", help="linear (default) | linear-char | logreg | catboost")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def _load(dataset: str | None, data: Path | None, text_col: str, label_col: str, id_col: str | None,
          min_class_size: int | None) -> Dataset:
    if dataset is None and data is None:
        raise DataError("say which data: --dataset NAME (bundled) or --data FILE")
    return load_dataset(dataset, path=data, text_col=text_col, label_col=label_col, id_col=id_col,
                        min_class_size=min_class_size)


def _workspace(option: Path | None) -> Workspace:
    return Workspace(option or load_settings().workspace)


def _existing_workspace(option: Path | None) -> Workspace:
    """The workspace, which must already exist (read-only commands never create one)."""
    ws = _workspace(option)
    if not ws.db_path.exists():
        raise WorkspaceError(f"no workspace at {ws.root}: nothing has been run there yet")
    return ws


def _seed(option: int | None) -> int:
    return option if option is not None else load_settings().seed


def metrics_table(title: str, metrics: Metrics, *, baseline: Metrics | None = None,
                  flagged: list[str] | tuple[str, ...] = ()) -> Table:
    """A rich table of per-class metrics; with ``baseline``, CBA and recall columns show the change."""
    table = Table(title=title, title_justify="left",
                  caption="overall row: sens = accuracy, CBA = OBA, F1 = macro F1", caption_justify="left")
    for col in ("class", "support", "sens/recall", "spec", "CBA", "precision", "F1"):
        table.add_column(col, justify="left" if col == "class" else "right")
    if baseline is not None:
        table.add_column("ΔCBA", justify="right")
        table.add_column("Δrecall", justify="right")
    for i, cls in enumerate(metrics.classes):
        row = [f"[bold red]{cls} ⚑[/]" if cls in flagged else cls, str(metrics.support[i]),
               f"{metrics.recall[i]:.3f}", f"{metrics.specificity[i]:.3f}", f"{metrics.cba[i]:.3f}",
               f"{metrics.precision[i]:.3f}", f"{metrics.f1[i]:.3f}"]
        if baseline is not None:
            row += [_delta(metrics.cba[i] - baseline.cba[i]), _delta(metrics.recall[i] - baseline.recall[i])]
        table.add_row(*row)
    overall = ["overall", str(metrics.support.sum()), f"{metrics.accuracy:.3f}", "", f"{metrics.oba:.3f}", "",
               f"{metrics.macro_f1:.3f}"]
    if baseline is not None:
        overall += [_delta(metrics.oba - baseline.oba), _delta(metrics.accuracy - baseline.accuracy)]
    table.add_section()
    table.add_row(*overall)
    return table


def _delta(value: float) -> str:
    colour = "green" if value > 1e-12 else "red" if value < -1e-12 else "dim"
    return f"[{colour}]{value:+.3f}[/]"


@app.command()
def datasets(json_out: JsonOpt = False) -> None:
    """List the bundled data sets.

    Example: autogets datasets
    """
    rows = []
    for name, description in BUNDLED.items():
        ds = load_dataset(name)
        rows.append({"name": name, "rows": len(ds.frame), "classes": ds.class_counts(), "description": description})
    if json_out:
        out.print_json(json.dumps(rows))
        return
    table = Table(title="Bundled data sets", title_justify="left")
    for col in ("name", "rows", "classes", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], str(r["rows"]), ", ".join(f"{c} {n}" for c, n in r["classes"].items()),
                      r["description"])
    out.print(table)


@app.command()
def diagnose(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
             label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
             seed: SeedOpt = None, classifier: ClassifierOpt = "linear",
             workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Train M0 on the train split, show per-class metrics on validation and test, and flag the weak classes.

    Writes report.json and a per-class bar chart into the workspace.

    Example: autogets diagnose --dataset trec6
    """
    from autogets.diagnose import diagnose as run_diagnosis
    from autogets.diagnose import write_report

    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    seed = _seed(seed)
    started_at = now_iso()
    with err.status(f"Training M0 on {ds.name} …", spinner="dots") if not json_out else contextlib.nullcontext():
        diagnosis = run_diagnosis(ds, seed=seed, classifier=classifier)
    ws = _workspace(workspace)
    run_id = new_run_id()
    folder = ws.report_dir("diagnose", ds.name, run_id)
    paths = write_report(diagnosis, folder)
    ws.record_run(run_id, "diagnose", ds.name, started_at=started_at, report_dir=folder,
                  params={"seed": seed, "classifier": classifier, "source": ds.source},
                  result={"weak_classes": diagnosis.weak_classes, "test_accuracy": diagnosis.test.accuracy})
    if json_out:
        out.print_json(json.dumps({**diagnosis.to_dict(), "report_dir": str(folder),
                                   "files": {k: str(v) for k, v in paths.items()}}))
        return
    if ds.duplicates_dropped or ds.classes_dropped:
        out.print(f"[dim]{ds.duplicates_dropped} duplicate texts dropped; classes dropped: "
                  f"{ds.classes_dropped or 'none'}[/]")
    out.print(f"{ds.name}: {len(ds.frame)} examples, {len(diagnosis.validation.classes)} classes, split "
              f"train/validation/test = {'/'.join(str(v) for v in diagnosis.sizes.values())} (seed {seed})")
    out.print(metrics_table("M0 on validation", diagnosis.validation, flagged=diagnosis.weak_classes))
    out.print(metrics_table("M0 on test", diagnosis.test, flagged=diagnosis.weak_classes))
    out.print(f"M0 test accuracy: [bold]{diagnosis.test.accuracy:.4f}[/] (OBA {diagnosis.test.oba:.4f}); "
              f"fit {diagnosis.fit_seconds:.2f} s")
    weak = ", ".join(diagnosis.weak_classes) or "none"
    out.print(f"Weak classes ⚑: [bold red]{weak}[/]  [dim](rule: {diagnosis.rule})[/]")
    out.print(f"Report: {paths['report']}\nPlot:   {paths['plot']}")


ClassOpt = Annotated[str, typer.Option("--class", "-c", help="The class to improve, e.g. ABBR.")]
GeneratorOpt = Annotated[str, typer.Option("--generator", "-g", help="embedded (default) | openai | eda")]
NOpt = Annotated[int, typer.Option("--n", help="Synthetic texts per real example (paper: 5).", min=1, max=50)]


def _generator(name: str, ws: Workspace, dataset: str | None = None):
    from autogets.generators import make_generator

    settings = load_settings()
    return make_generator(name, Settings(workspace=ws.root, seed=settings.seed, llm=settings.llm), dataset=dataset)


@contextlib.contextmanager
def progress_bars(enabled: bool = True):
    """Rich progress bars on stderr, one per phase; yields a ``progress(phase, done, total)`` callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not enabled:
        yield None
        return
    labels = {"generate": "Generating synthetic texts", "search": "Evaluating candidates"}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=err, transient=False) as bars:
        tasks: dict[str, int] = {}

        def update(phase: str, done: int, total: int | None, info: str = "") -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(labels.get(phase, phase), total=total, info="")
            bars.update(tasks[phase], completed=done, total=total, info=info)

        yield update


@app.command()
def generate(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
             label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
             target: ClassOpt = ..., generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
             workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Generate synthetic texts for the training examples of one class (cached: a re-run generates nothing new).

    Example: autogets generate --dataset trec6 --class ABBR --generator embedded --n 5
    """
    from autogets.data import split_dataset
    from autogets.generators.cache import GenerationCache
    from autogets.pipeline import check_class, synthesize_class

    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    split = split_dataset(ds, seed=_seed(seed))
    check_class(split, target)
    ws = _workspace(workspace)
    gen = _generator(generator, ws, ds.name)
    try:
        with progress_bars(not json_out) as progress:
            result = synthesize_class(GenerationCache(ws.db()), gen, split, target, n_per_example=n,
                                      seed=_seed(seed), progress=progress)
    except KeyboardInterrupt:
        kept = GenerationCache(ws.db()).count(gen.name, target)
        err.print(f"autogets: interrupted; {kept} generated texts for {target} are kept in the cache")
        raise typer.Exit(130) from None
    summary = {"dataset": ds.name, "class": target, "generator": gen.name, "model": gen.model,
               "prompt_version": gen.prompt_version, **result.summary(),
               "failed": [{"source_id": i, "error": e} for i, e in result.failed],
               "samples": [{"source_id": s.source_id, "text": s.text} for s in result.synthetic[:8]]}
    if json_out:
        out.print_json(json.dumps(summary))
        return
    for s in result.synthetic[:8]:
        out.print(f"  [dim]{s.source_id:>5}[/] {s.text}", highlight=False)
    c = result.report.to_dict()
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(c["dropped"].items())) or "none"
    out.print(f"{target}: {len(result.synthetic)} synthetic texts kept from {c['total']} outputs "
              f"(dropped: {dropped}); generated now for {result.generated} examples, "
              f"{result.cached} from cache; {len(result.failed)} failed")


@app.command()
def samples(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
            label_col: LabelColOpt = "label", target: ClassOpt = ..., generator: GeneratorOpt = "embedded",
            limit: Annotated[int, typer.Option("--limit", help="How many to show.")] = 20,
            workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List cached synthetic texts of one class.

    Example: autogets samples --dataset trec6 --class ABBR
    """
    ds = _load(dataset, data, text_col, label_col, None, None)
    ws = _existing_workspace(workspace)
    sources = {int(i): t for i, t in zip(ds.frame["id"], ds.frame["text"], strict=True)}
    rows = [r for r in ws.db().query(
        "SELECT source_id, sample_index, text, model, prompt_version FROM generations WHERE label = ? AND "
        "generator = ? ORDER BY source_id, sample_index", [target, generator]) if r["source_id"] in sources]
    if json_out:
        out.print_json(json.dumps(rows[:limit]))
        return
    table = Table(title=f"{len(rows)} cached {generator} texts for {target} (showing {min(limit, len(rows))})",
                  title_justify="left")
    table.add_column("source")
    table.add_column("#")
    table.add_column("synthetic text")
    for r in rows[:limit]:
        table.add_row(str(r["source_id"]), str(r["sample_index"]), r["text"])
    out.print(table)


@app.command()
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
           classifier: ClassifierOpt = "linear",
           executor: Annotated[str, typer.Option("--executor", help="local (processes) | serial | ray")] = "local",
           workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Search which synthetic texts to add for one class, on validation, then report the best on test vs M0.

    Example: autogets search --dataset trec6 --class ABBR --strategy sw --objective cba --budget 169
    """
    from autogets.search import Budget
    from autogets.search.run import run_search

    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    if budget is None and budget_seconds is None:
        budget = 500
    bud = Budget(max_evaluations=budget, max_fit_seconds=budget_seconds)
    ws = _workspace(workspace)
    gen = _generator(generator, ws, ds.name)
    with progress_bars(not json_out) as progress:
        report = run_search(ws, ds, target=target, strategy=strategy, objective=objective, budget=bud,
                            generator=gen, n_per_example=n, seed=_seed(seed), search_seed=search_seed,
                            classifier=classifier, executor=executor, progress=progress)
    payload = report.to_dict()
    if json_out:
        out.print_json(json.dumps(payload))
        return
    r = report.result
    out.print(f"{strategy.upper()} on {ds.name} {target}, objective {objective}: {r.evaluations} evaluations, "
              f"{r.fit_seconds:.1f} s of fit time, stopped: {r.stopped_because}")
    out.print(f"Best on validation: {r.best.gain:+.4f} {objective} with {len(r.best.selection)} source examples "
              f"({r.best.n_synthetic} synthetic texts)")
    out.print(metrics_table(f"Test split: best ({strategy}) vs M0", report.test_best, baseline=report.test_m0,
                            flagged=(target,)))
    gain = report.test_gain
    out.print(f"Test {objective} gain for {target}: [bold]{gain:+.4f}[/]" if gain is not None else "")
    out.print(f"Report: {report.report_dir}")


ActorOpt = Annotated[str, typer.Option("--actor", help="Who is acting (recorded).")]


@app.command()
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
        out.print(f"Goal: [bold]{goal or f'{objective}:{cls}'}[/] on {ds.name}. Plan from the {source}:")
        for i, p in enumerate(phases):
            out.print(f"  {i + 1}. {p.label()}  [dim]— {p.reason}[/]")

    def show_decision(d) -> None:
        if not json_out:
            colour = "green" if d.accepted else "yellow"
            out.print(f"  [{colour}]{d.phase.label()}: {d.reason}[/] ({d.evaluations} evaluations, "
                      f"{d.added_texts} texts added)")

    with progress_bars(not json_out) as progress:
        report = run_improve(ws, ds, target=target, objective=objective, goal=goal, budget=budget, generator=gen,
                             n_per_example=n, seed=_seed(seed), classifier=classifier, executor=executor,
                             promote=promote, actor=actor, progress=progress, on_plan=show_plan,
                             on_decision=show_decision)
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
        return
    out.print(metrics_table(f"Test split: improved vs M0 ({report.model_id})", report.final_test,
                            baseline=report.m0_test, flagged=(report.target,)))
    out.print(f"{report.target} test CBA {report.m0_test.value('cba', report.target):.3f} → "
              f"{report.final_test.value('cba', report.target):.3f} ([bold]{report.goal_gain_test():+.3f}[/]); "
              f"accuracy {report.m0_test.accuracy:.3f} → {report.final_test.accuracy:.3f}")
    state = "promoted to production" if report.promoted else (f"candidate; promote with `autogets models promote "
                                                               f"{report.model_id}`")
    out.print(f"Model {report.model_id}: {state}")
    out.print(f"Report: {report.report_dir}/report.md  ({report.elapsed_seconds:.0f} s)")


kb_app = typer.Typer(no_args_is_help=True, help="The knowledge map: which strategy works for which class.")
app.add_typer(kb_app, name="kb")


@kb_app.command("build")
def kb_build(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
             label_col: LabelColOpt = "label",
             budget: Annotated[int, typer.Option("--budget", help="Evaluations per cell.", min=1)] = 100,
             target: Annotated[list[str] | None, typer.Option("--class", "-c", help="Only these classes.")] = None,
             strategy: Annotated[list[str] | None, typer.Option("--strategy", "-s")] = None,
             objective: Annotated[list[str] | None, typer.Option("--objective", "-o")] = None,
             generator: GeneratorOpt = "embedded", n: NOpt = 5, seed: SeedOpt = None,
             executor: Annotated[str, typer.Option("--executor")] = "local",
             workspace: WorkspaceOpt = None) -> None:
    """Run the systematic experiments (class × strategy × objective); finished cells are skipped.

    Example: autogets kb build --dataset trec6 --budget 100
    """
    from autogets.knowledge import KB_OBJECTIVES, KB_STRATEGIES, build

    ds = _load(dataset, data, text_col, label_col, None, None)
    ws = _workspace(workspace)
    gen = _generator(generator, ws, ds.name)

    def on_cell(cell, skipped) -> None:
        label = f"{cell['class']:>6} {cell['strategy']:>6} {cell['objective']:>4}"
        if skipped:
            out.print(f"  {label}: [dim]already in the map[/]")
        else:
            out.print(f"  {label}: validation gain {cell['val_gain']:+.4f}, test gain {cell['test_gain']:+.4f}")

    frame = build(ws, ds, budget=budget, generator=gen, classes=target, strategies=strategy or KB_STRATEGIES,
                  objectives=objective or KB_OBJECTIVES, seed=_seed(seed), n_per_example=n, executor=executor,
                  on_cell=on_cell)
    out.print(f"Knowledge map of {ds.name}: {len(frame)} cells. Show it with `autogets kb show --dataset {ds.name}`")


@kb_app.command("show")
def kb_show(dataset: DatasetOpt = None, workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Print the knowledge map of a data set and write a heat-map PNG.

    Example: autogets kb show --dataset trec6
    """
    from autogets.knowledge import cells, heatmap

    if dataset is None:
        raise DataError("say which data set: --dataset NAME")
    ws = _existing_workspace(workspace)
    frame = cells(ws, dataset)
    if frame.empty:
        raise DataError(f"the knowledge map has nothing for {dataset!r}; run `autogets kb build --dataset {dataset}`")
    if json_out:
        out.print_json(frame.drop(columns=["effects"]).to_json(orient="records"))
        return
    table = Table(title=f"Knowledge map: {dataset}", title_justify="left")
    for col in ("class", "strategy", "objective", "generator", "budget", "val gain", "test gain", "evals"):
        table.add_column(col)
    for _, r in frame.sort_values(["class", "objective", "val_gain"], ascending=[True, True, False]).iterrows():
        table.add_row(r["class"], r["strategy"], r["objective"], r["generator"], str(r["budget"]),
                      f"{r['val_gain']:+.4f}", f"{r['test_gain']:+.4f}", str(r["evaluations"]))
    out.print(table)
    for objective in sorted(set(frame["objective"])):
        path = heatmap(frame, ws.path("reports", f"kb-{dataset}-{objective}.png"), objective=objective)
        out.print(f"Heat map: {path}")


models_app = typer.Typer(no_args_is_help=True, help="Model versions: list, show, promote, rollback.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(dataset: DatasetOpt = None, workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List model versions. Example: autogets models list --dataset trec6"""
    from autogets.registry import Registry

    versions = Registry(_existing_workspace(workspace)).list(dataset)
    if json_out:
        out.print_json(json.dumps([{"id": v.id, "status": v.status, "parent": v.parent, "created_at": v.created_at,
                                    "created_by": v.created_by, **v.summary} for v in versions]))
        return
    table = Table(title="Model versions", title_justify="left")
    for col in ("id", "status", "parent", "goal", "test CBA gain", "synthetic", "created", "by"):
        table.add_column(col)
    for v in versions:
        table.add_row(v.id, v.status, v.parent or "", v.summary.get("goal", ""),
                      f"{v.summary.get('test_cba_gain', 0):+.3f}", str(v.summary.get("synthetic_texts", "")),
                      v.created_at, v.created_by)
    out.print(table)


@models_app.command("show")
def models_show(model_id: Annotated[str, typer.Argument(help="e.g. trec6-v2")], workspace: WorkspaceOpt = None) -> None:
    """Show one model version with its recipe summary and history."""
    from autogets.registry import Registry

    reg = Registry(_existing_workspace(workspace))
    v = reg.get(model_id)
    out.print_json(json.dumps({"id": v.id, "dataset": v.dataset, "status": v.status, "parent": v.parent,
                               "created_at": v.created_at, "created_by": v.created_by, "summary": v.summary,
                               "artifact": v.artifact, "real_train_examples": len(v.recipe.get("real_train_ids", [])),
                               "synthetic_texts": len(v.recipe.get("synthetic", [])),
                               "test_overall": v.metrics_test.get("overall"),
                               "events": [e for e in reg.events(v.dataset) if e["model_id"] == v.id]}))


@models_app.command("promote")
def models_promote(model_id: Annotated[str, typer.Argument(help="e.g. trec6-v2")], actor: ActorOpt = "cli",
                   workspace: WorkspaceOpt = None) -> None:
    """Make a version the production model of its data set (recorded with actor and time)."""
    from autogets.registry import Registry

    v = Registry(_existing_workspace(workspace)).promote(model_id, actor=actor)
    out.print(f"{v.id} is now in production for {v.dataset} (by {actor})")


@models_app.command("rollback")
def models_rollback(dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name.")],
                    actor: ActorOpt = "cli", workspace: WorkspaceOpt = None) -> None:
    """Put back the previous production version of a data set (recorded with actor and time)."""
    from autogets.registry import Registry

    v = Registry(_existing_workspace(workspace)).rollback(dataset, actor=actor)
    out.print(f"Rolled back: {v.id} is in production for {dataset} again (by {actor})")


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; results are written to benchmarks/results/.")
app.add_typer(bench_app, name="bench")
OutDirOpt = Annotated[Path, typer.Option("--out", help="Folder for the results file.")]


@bench_app.command("generate")
def bench_generate(target: ClassOpt = "ABBR", n: NOpt = 5,
                   limit: Annotated[int | None, typer.Option(help="Only the first N examples.")] = None,
                   workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Embedded generator speed on trec6: load time, texts/minute, peak RSS.

    Example: autogets bench generate --class ABBR
    """
    from autogets.bench import write_result
    from autogets.bench.speed import bench_generate as run

    ws = _workspace(workspace)
    with err.status("Benchmarking the embedded generator …"):
        result = run(target=target, n_per_example=n, cache_dir=ws.root / "models" / "embedded", limit=limit)
    path = write_result("generate", result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")


@bench_app.command("search")
def bench_search(target: ClassOpt = "ABBR",
                 evaluations: Annotated[int, typer.Option(help="Random candidates to time.")] = 300,
                 classifier: Annotated[list[str] | None, typer.Option("--classifier",
                                                                      help="Repeatable; default linear.")] = None,
                 generator: GeneratorOpt = "eda", workspace: WorkspaceOpt = None,
                 out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Candidate evaluations per second and one full SW pair (169 windows) on trec6.

    Example: autogets bench search --classifier linear --classifier catboost
    """
    from autogets.bench import write_result
    from autogets.bench.speed import bench_search as run

    ws = _workspace(workspace)
    with err.status("Benchmarking candidate evaluation …"):
        result = run(target=target, classifiers=tuple(classifier or ["linear"]), evaluations=evaluations,
                     workspace_root=ws.root, generator=generator)
    path = write_result("search", result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")


@bench_app.command("quality")
def bench_quality(
        dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
        label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
        seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (42, 43, …).")] = 5,
        budget: Annotated[int, typer.Option(min=1, help="Candidate evaluations per search (paper: ~180 = 1 "
                                                        "GPU-hour).")] = 180,
        target: Annotated[list[str] | None, typer.Option("--class", "-c", help="Repeatable; default all.")] = None,
        strategy: Annotated[list[str] | None, typer.Option("--strategy", help="Repeatable; default random, sw, "
                                                                             "hsw, ga.")] = None,
        generator: Annotated[list[str] | None, typer.Option("--generator", "-g", help="Repeatable; default "
                                                                                     "embedded and eda.")] = None,
        objective: Annotated[list[str] | None, typer.Option("--objective", help="Repeatable; default cba, "
                                                                               "oba.")] = None,
        n: NOpt = 5,
        max_sources: Annotated[int, typer.Option(min=1, help="Source examples per class that get synthetic "
                                                             "texts (chosen by text hash).")] = 200,
        improve: Annotated[bool, typer.Option(help="Also run the ensemble per class.")] = True,
        quick: Annotated[bool, typer.Option("--quick", help="One seed, budget 20, 10 sources and (without --class) "
                                                            "the two smallest classes: checks the harness in "
                                                            "minutes.")] = False,
        executor: Annotated[str, typer.Option("--executor", help="local | serial | ray")] = "local",
        workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results"),
        json_out: JsonOpt = False) -> None:
    """The paper's Tables 10–11 over seeds: class × strategy × generator × objective, baselines, paired tests.

    Resumable: finished cells are kept in the workspace. Writes <date>-quality-<data>.json/.md and plots.

    Example: autogets bench quality --dataset trec6 --quick
    """
    import time

    from autogets.bench.quality import STRATEGIES, QualityConfig, run_quality
    from autogets.bench.tables import write_quality
    from autogets.data import split_dataset
    from autogets.pipeline import check_class
    from autogets.search import make_strategy
    from autogets.search.objectives import make_objective

    ds = _load(dataset or ("trec6" if data is None else None), data, text_col, label_col, id_col, min_class_size)
    split = split_dataset(ds, seed=42)
    for c in target or []:
        check_class(split, c)
    for s in strategy or []:
        make_strategy(s)  # unknown names fail here, before any work
    for o in objective or []:
        make_objective(o, split.classes[0])
    classes = tuple(target) if target else None
    if quick:
        smallest = tuple(split.train["label"].value_counts().sort_values(kind="stable").index[:2])
        config = QualityConfig.quick(classes=classes or smallest)
    else:
        config = QualityConfig(seeds=tuple(range(42, 42 + seeds)), classes=classes, budget=budget,
                               n_per_example=n, max_sources=max_sources, improve=improve)
    config = replace(config, improve=improve, strategies=tuple(strategy or STRATEGIES),
                     generators=tuple(generator or config.generators),
                     objectives=tuple(objective or config.objectives))
    ws = _workspace(workspace)
    gens = {g: _generator(g, ws, dataset=ds.name) for g in config.generators}  # unknown names fail here
    started = time.perf_counter()
    with progress_bars(not json_out) as progress:
        report = (lambda phase, done, total: progress("Quality cells", done, total, phase)) if progress else None
        cells = run_quality(ws, ds, config, generators=gens, executor=executor, progress=report)
    elapsed = time.perf_counter() - started
    name = f"quality-{ds.name}" + ("-quick" if quick else "")
    path, md, text = write_quality(cells, config, dataset=ds.name, name=name, out_dir=out_dir, elapsed=elapsed)
    if json_out:
        out.print_json(json.dumps({"results": str(path), "markdown": str(md), "cells": len(cells),
                                   "wall_seconds": round(elapsed, 1)}))
        return
    out.print(text)
    out.print(f"Written to {path} and {md}")


@bench_app.command("speed")
def bench_speed(classifier: Annotated[list[str] | None, typer.Option("--classifier", help="Repeatable; default "
                                                                                        "linear and linear-char (and "
                                                                                        "catboost if installed).")
                                      ] = None,
                evaluations: Annotated[int, typer.Option(min=10, help="Random candidates to time.")] = 300,
                workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Evaluations/second per classifier, SW over one PCA pair, generation texts/minute, peak RSS of `improve`.

    Example: autogets bench speed
    """
    import importlib.util

    from autogets.bench import write_result
    from autogets.bench.speed import bench_speed as run

    names = classifier or ["linear", "linear-char", *(["catboost"] if importlib.util.find_spec("catboost") else [])]
    ws = _workspace(workspace)
    with err.status("Benchmarking speed and memory (a few minutes) …"):
        result = run(workspace_root=ws.root, classifiers=tuple(names), evaluations=evaluations)
    path = write_result("speed", result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")


def _version_callback(value: bool) -> None:
    if value:
        out.print(f"autogets {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Improve a text classifier's weak classes with LLM-generated data chosen by search."""


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line on stderr and exit code 2."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="autogets")
    except AutogetsError as exc:
        err.print(f"autogets: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return _exit(2, argv)
    except ClickException as exc:
        err.print(f"autogets: error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        return _exit(exc.exit_code, argv)
    except (typer.Abort, KeyboardInterrupt):
        err.print("autogets: interrupted", markup=False)
        return _exit(130, argv)
    code = result if isinstance(result, int) else 0
    return _exit(code, argv)


def _exit(code: int, argv: list[str] | None) -> int:
    if argv is None:  # called as the console script
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
