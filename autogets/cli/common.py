"""What the command modules share: consoles, option types, data/workspace/generator helpers, tables, progress."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from autogets.config import Settings, load_settings
from autogets.data import Dataset, load_dataset
from autogets.errors import DataError, WorkspaceError
from autogets.metrics import Metrics
from autogets.textfmt import escape_rich, visible_controls, visible_in_json
from autogets.workspace import Workspace


class SafeConsole(Console):
    """A Rich console whose JSON output carries no raw control character or bidi override: Rich re-encodes JSON
    with ``ensure_ascii=False``, which leaves C1 controls and U+202E as they are; here they become ``\\u``
    escapes (:func:`autogets.textfmt.visible_in_json`), the same JSON value."""

    def print_json(self, json: str | None = None, *, data: Any = None, indent: int | str | None = 2,
                   highlight: bool = True, **kwargs: Any) -> None:
        import json as jsonlib

        from rich.highlighter import JSONHighlighter, NullHighlighter
        from rich.text import Text

        value = jsonlib.loads(json) if json is not None else data
        kwargs.setdefault("skipkeys", kwargs.pop("skip_keys", False))  # Rich's name for json.dumps's
        text = visible_in_json(jsonlib.dumps(value, indent=indent, ensure_ascii=False, **kwargs))
        shown = (JSONHighlighter() if highlight else NullHighlighter())(Text(text))
        shown.no_wrap, shown.overflow = True, None
        self.print(shown, soft_wrap=True)


# Pipes and CI logs get 120 columns (rich would pick 80 and squeeze the per-class tables).
out = SafeConsole(width=None if sys.stdout.isatty() else 120)
err = SafeConsole(stderr=True, width=None if sys.stderr.isatty() else 120)

# Options shared by several commands, declared once.
DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="Bundled data set name (see `datasets`).")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV (or tab-, semicolon- or pipe-separated), JSONL or "
                                                         "Parquet file with labelled texts.")]
TextColOpt = Annotated[str, typer.Option("--text-col", help="Text column of --data.")]
LabelColOpt = Annotated[str, typer.Option("--label-col", help="Label column of --data.")]
IdColOpt = Annotated[str | None, typer.Option("--id-col", help="Integer id column (default: row number).")]
MinClassOpt = Annotated[int | None, typer.Option("--min-class-size", help="Drop classes with fewer examples.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Split seed (default 42 or AUTOGETS_SEED).")]
WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", help="Workspace folder (default ./.autogets "
                                                                      "or AUTOGETS_HOME).")]
ClassifierOpt = Annotated[str | None, typer.Option(
    "--classifier", help="auto (default, or AUTOGETS_CLASSIFIER: chosen by cross-validation) | linear | minilm | "
                         "minilm-tfidf | minilm-logreg | embed-openai | linear-char | logreg | catboost | "
                         "module:factory (your own)")]
ExecutorOpt = Annotated[str, typer.Option("--executor", envvar="AUTOGETS_EXECUTOR",
                                          help="local (processes) | serial | ray")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address",
                                                   help="With --executor ray: auto | ray://host:10001 (default: "
                                                        "RAY_ADDRESS, else a new local Ray).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def _load(dataset: str | None, data: Path | None, text_col: str, label_col: str, id_col: str | None,
          min_class_size: int | None) -> Dataset:
    if dataset is None and data is None:
        raise DataError("say which data: --dataset NAME (bundled) or --data FILE")
    ds = load_dataset(dataset, path=data, text_col=text_col, label_col=label_col, id_col=id_col,
                      min_class_size=min_class_size)
    if ds.case_variants:
        err.print(f"autogets: warning: {visible_controls(ds.case_warning(), keep='')}", markup=False,
                  highlight=False, soft_wrap=True)
    return ds


def note_other_contents(ws: Workspace, ds: Dataset) -> None:
    """One line on stderr when the workspace already holds another data set of ``ds``'s name (another content): not
    an error, the two are kept apart (each its own model versions, production model, reviews and knowledge map)."""
    if not ws.db_path.exists():
        return
    from autogets.identity import KnownDataset, others

    held = others(ws.db(), ds.identity)
    if held:
        this = KnownDataset(ds.identity, tuple(ds.classes), ds.source, len(ds.frame)).describe()
        listed = ", ".join(k.describe() for k in held)
        err.print(visible_controls(f"autogets: note: this workspace already holds another data set named {ds.name!r} "
                                   f"with other content: {listed}; this one is {this}, kept apart (its own model "
                                   "versions and production model)", keep=""),
                  markup=False, highlight=False, soft_wrap=True)


def _workspace(option: Path | None, *, write: bool = True) -> Workspace:
    """The workspace of a command; one that writes (``write``) refuses a read-only workspace before any work."""
    from autogets.embeddings import store_for, use_store

    ws = Workspace(option or load_settings().workspace)
    ws.check_database()  # a lost database is refused before any work
    if write:
        ws.require_writable()
    use_store(store_for(ws.root))  # every text is embedded once per workspace
    return ws


def _classifier(option: str | None) -> str:
    """The classifier a command uses: ``--classifier``, else the settings' (``auto`` by default), checked."""
    from autogets.classifiers import AUTO, make_classifier

    name = option or load_settings().classifier
    if name != AUTO:
        make_classifier(name)  # a bad name or module:factory fails here, before any work
    return name


def _existing_workspace(option: Path | None, *, write: bool = False) -> Workspace:
    """The workspace, which must already exist (read-only commands never create one, and work on a read-only
    workspace; ``write``: the command changes it)."""
    ws = _workspace(option, write=write)
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
        name = escape_rich(cls)
        row = [f"[bold red]{name} ⚑[/]" if cls in flagged else name, str(metrics.support[i]),
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


def choice_table(choice) -> Table:
    """The ``auto`` comparison (:class:`autogets.selection.ClassifierChoice`) as a table, the chosen row marked."""
    table = Table(title=f"Classifier for M0: cross-validated on train + validation ({choice.repeats} × "
                        f"{choice.folds} folds)", title_justify="left")
    for col in ("classifier", "macro CBA", "accuracy", *((f"CBA {choice.target}",) if choice.target else ()),
                "seconds", ""):
        table.add_column(escape_rich(col), justify="left" if col == "classifier" else "right")
    for s in choice.scores:
        row = [escape_rich(f"{s.name} ({s.description})"), f"{s.macro_cba:.4f}", f"{s.accuracy:.4f}"]
        if choice.target:
            row.append(f"{s.target_cba:.4f}")
        row += [f"{s.seconds:.1f}", "[bold green]chosen[/]" if s.name == choice.chosen else ""]
        table.add_row(*row)
    return table


def _delta(value: float) -> str:
    colour = "green" if value > 1e-12 else "red" if value < -1e-12 else "dim"
    return f"[{colour}]{value:+.3f}[/]"


ClassOpt = Annotated[str, typer.Option("--class", "-c", help="The class to improve, e.g. ABBR.")]
GeneratorOpt = Annotated[str, typer.Option("--generator", "-g", help="embedded (default) | openai | eda")]
NOpt = Annotated[int, typer.Option("--n", help="Synthetic texts per real example (paper: 5).", min=1, max=50)]
ObaToleranceOpt = Annotated[float, typer.Option(
    "--oba-tolerance", min=0.0, max=1.0,
    help="How far overall balanced accuracy (OBA) may drop for a change to be accepted: raise it to trade "
         "accuracy for the goal class (OBA = (K·accuracy + K − 2) / (2(K − 1)) with K classes).")]


def _generator(name: str, ws: Workspace, dataset: str | None = None, **params):
    from autogets.generators import make_generator

    settings = load_settings()
    return make_generator(name, Settings(workspace=ws.root, seed=settings.seed, llm=settings.llm), dataset=dataset,
                          **params)


@contextlib.contextmanager
def progress_bars(enabled: bool = True):
    """Rich progress bars on stderr, one per phase; yields a ``progress(phase, done, total)`` callback. The display
    starts with the first bar, so a command that fails before any progress (an unknown class) prints only its
    error line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not enabled:
        yield None
        return
    labels = {"generate": "Generating synthetic texts", "search": "Evaluating candidates",
              "embed": "Embedding texts (once per workspace)"}
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[info]}"), console=err, transient=False)
    tasks: dict[str, int] = {}

    def update(phase: str, done: int, total: int | None, info: str = "") -> None:
        if not tasks:
            bars.start()
        if phase not in tasks:  # a phase label names a class: user text
            tasks[phase] = bars.add_task(escape_rich(labels.get(phase, phase)), total=total, info="")
        bars.update(tasks[phase], completed=done, total=total, info=escape_rich(info))

    from autogets.embeddings import embedding_progress

    try:
        with embedding_progress(lambda done, total: update("embed", done, total)):
            yield update
    finally:
        if tasks:
            bars.stop()


def print_mlflow(status: Any) -> None:
    """The MLflow sync's one line (:class:`autogets.mlflow_sync.SyncOutcome` or its ``to_dict()``; None: MLflow is
    not configured): on stdout when it worked, as a warning on stderr when work is left pending."""
    if status is None:
        return
    info = status if isinstance(status, dict) else status.to_dict()
    if info["ok"]:
        out.print(visible_controls(info["line"], keep=""), markup=False, highlight=False, soft_wrap=True)
    else:
        err.print(f"autogets: warning: {visible_controls(info['line'], keep='')}", markup=False, highlight=False,
                  soft_wrap=True)


ActorOpt = Annotated[str, typer.Option("--actor", help="Who is acting (recorded).")]
OutDirOpt = Annotated[Path, typer.Option("--out", help="Folder for the results file.")]
