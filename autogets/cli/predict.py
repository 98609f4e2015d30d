"""`autogets predict`: label texts with a registered model (the production version by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autogets.cli.common import JsonOpt, TextColOpt, WorkspaceOpt, _existing_workspace, out
from autogets.errors import DataError
from autogets.textfmt import escape_rich


def predict(dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Data set whose production model "
                                                        "to use.")] = None,
            model: Annotated[str | None, typer.Option("--model", help="A model version id instead, e.g. trec6-v2.")]
            = None,
            text: Annotated[list[str] | None, typer.Option("--text", help="A text to label (repeatable).")] = None,
            data: Annotated[Path | None, typer.Option("--data", help="CSV, JSONL or Parquet file of texts.")] = None,
            output: Annotated[Path | None, typer.Option("--out", help="Output file for --data (.csv, .jsonl, "
                                                        ".json, .parquet); written atomically.")] = None,
            text_col: TextColOpt = "text", workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Label texts with the production model of a data set (or --model), with a score per class.

    Scores are decision values for models that have them (the linear ones), else probabilities. With --data the
    output file gets the input columns plus predicted_label, score_<class> and model_id.

    Example: autogets predict --dataset trec6 --text "What does NASA stand for?"
    """
    from autogets.serving import load_version, output_writer, predict_texts, prediction_table, read_texts, write_atomic

    if bool(text) == (data is not None):
        raise DataError("give texts with --text, or a file with --data (and --out), not both")
    if data is not None and output is None:
        raise DataError("--data needs --out FILE for the predictions")
    if output is not None and data is None:
        raise DataError("--out goes with --data")
    for i, t in enumerate(text or [], start=1):
        if not t.strip():
            raise DataError(f"--text {i} is empty; give a text to label")
    writer = output_writer(output) if output is not None else None
    frame = read_texts(data, text_col) if data is not None else None
    record, fitted = load_version(dataset, model, _existing_workspace(workspace))
    texts = [str(t) for t in frame[text_col]] if frame is not None else list(text)
    result = predict_texts(fitted, texts, record.id)
    if writer is not None:
        table = prediction_table(frame, result)
        try:
            write_atomic(output, lambda tmp: writer(table, tmp))
        except (ValueError, TypeError, OSError, ImportError) as exc:  # e.g. pyarrow: a column of mixed types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"{output}: cannot write the predictions ({type(exc).__name__}: {first})") from None
        if json_out:
            out.print_json(json.dumps({"model_id": record.id, "rows": len(table), "out": str(output),
                                       "score_kind": result.score_kind}))
        else:
            counts = table["predicted_label"].value_counts()
            out.print(escape_rich(f"Wrote {len(table)} predictions to {output} (model {record.id}, {record.status}): "
                                  + ", ".join(f"{c} {n}" for c, n in counts.items())))
        return
    if json_out:
        out.print_json(json.dumps({"model_id": record.id, "dataset": record.dataset, "status": record.status,
                                   "score_kind": result.score_kind, "classes": result.classes,
                                   "predictions": result.to_records(texts)}))
        return
    grid = Table(title=escape_rich(f"Model {record.id} ({record.status}); scores: {result.score_kind}"),
                 title_justify="left")
    grid.add_column("text", overflow="fold", max_width=48)
    grid.add_column("label")
    for c in result.classes:
        grid.add_column(escape_rich(c), justify="right")
    for t, label, row in zip(texts, result.labels, result.scores, strict=True):
        grid.add_row(escape_rich(t), f"[bold]{escape_rich(label)}[/]", *(f"{s:.3f}" for s in row))
    out.print(grid)
