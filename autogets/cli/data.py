"""`autogets datasets` and `autogets diagnose`."""

from __future__ import annotations

import json

from rich.table import Table

from autogets.cli.common import (
    ClassifierOpt,
    DataOpt,
    DatasetOpt,
    IdColOpt,
    JsonOpt,
    LabelColOpt,
    MinClassOpt,
    SeedOpt,
    TextColOpt,
    WorkspaceOpt,
    _classifier,
    _load,
    _seed,
    _workspace,
    choice_table,
    metrics_table,
    out,
    progress_bars,
)
from autogets.data import BUNDLED, load_dataset
from autogets.textfmt import escape_rich
from autogets.workspace import new_run_id, now_iso


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


def diagnose(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
             label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
             seed: SeedOpt = None, classifier: ClassifierOpt = None,
             workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Choose M0's classifier, train M0 on the train split, show per-class metrics on validation and test, and flag
    the weak classes.

    With --classifier auto (the default) the fast built-in classifiers are compared by cross-validation on train +
    validation and the best by macro CBA becomes M0; the comparison is printed. Writes report.json and a per-class
    bar chart into the workspace.

    Example: autogets diagnose --dataset trec6
    """
    from autogets.diagnose import diagnose as run_diagnosis
    from autogets.diagnose import write_report

    ds = _load(dataset, data, text_col, label_col, id_col, min_class_size)
    seed = _seed(seed)
    classifier = _classifier(classifier)
    ws = _workspace(workspace)
    started_at = now_iso()
    with progress_bars(not json_out):
        diagnosis = run_diagnosis(ds, seed=seed, classifier=classifier)
    run_id = new_run_id()
    folder = ws.report_dir("diagnose", ds.name, run_id)
    paths = write_report(diagnosis, folder)
    ws.record_run(run_id, "diagnose", ds, started_at=started_at, report_dir=folder,
                  params={"seed": seed, "classifier": diagnosis.classifier, "asked": classifier,
                          "source": ds.source},
                  result={"weak_classes": diagnosis.weak_classes, "test_accuracy": diagnosis.test.accuracy})
    if json_out:
        out.print_json(json.dumps({**diagnosis.to_dict(), "report_dir": str(folder),
                                   "files": {k: str(v) for k, v in paths.items()}}))
        return
    if ds.note():
        out.print(f"[dim]{escape_rich(ds.note())}[/]")
    out.print(f"{escape_rich(ds.name)}: {len(ds.frame)} examples, {len(diagnosis.validation.classes)} classes, split "
              f"train/validation/test = {'/'.join(str(v) for v in diagnosis.sizes.values())} (seed {seed})")
    if diagnosis.choice is not None:
        out.print(choice_table(diagnosis.choice))
    out.print(f"M0: [bold]{escape_rich(diagnosis.classifier_reason)}[/]")
    out.print(metrics_table("M0 on validation", diagnosis.validation, flagged=diagnosis.weak_classes))
    out.print(metrics_table("M0 on test", diagnosis.test, flagged=diagnosis.weak_classes))
    out.print(f"M0 test accuracy: [bold]{diagnosis.test.accuracy:.4f}[/] (OBA {diagnosis.test.oba:.4f}); "
              f"fit {diagnosis.fit_seconds:.2f} s")
    weak = escape_rich(", ".join(diagnosis.weak_classes) or "none")
    out.print(f"Weak classes ⚑: [bold red]{weak}[/]  [dim](rule: {diagnosis.rule})[/]")
    out.print(escape_rich(f"Report: {paths['report']}\nPlot:   {paths['plot']}"))
