"""`autogets generate` and `autogets samples`: synthetic texts of one class."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from autogets.cli.common import (
    ClassOpt,
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
    _existing_workspace,
    _generator,
    _load,
    _seed,
    _workspace,
    err,
    out,
    progress_bars,
)
from autogets.textfmt import escape_rich, visible_controls


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
            result = synthesize_class(GenerationCache(ws.db()), gen, split, target, dataset=ds.identity,
                                      n_per_example=n, seed=_seed(seed), progress=progress)
    except KeyboardInterrupt:
        kept = GenerationCache(ws.db()).count(gen.name, target)
        err.print(visible_controls(f"autogets: interrupted; {kept} generated texts for {target} are kept in the cache",
                                   keep=""), markup=False)
        raise typer.Exit(130) from None
    summary = {"dataset": ds.name, "class": target, "generator": gen.name, "model": gen.model,
               "prompt_version": gen.prompt_version, **result.summary(),
               "failed": [{"source_id": i, "error": e} for i, e in result.failed],
               "samples": [{"source_id": s.source_id, "text": s.text} for s in result.synthetic[:8]]}
    if json_out:
        out.print_json(json.dumps(summary))
        return
    for s in result.synthetic[:8]:
        out.print(f"  [dim]{s.source_id:>5}[/] {escape_rich(s.text)}", highlight=False)
    c = result.report.to_dict()
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(c["dropped"].items())) or "none"
    out.print(f"{escape_rich(target)}: {len(result.synthetic)} synthetic texts kept from {c['total']} outputs "
              f"(dropped: {dropped}); generated now for {result.generated} examples, "
              f"{result.cached} from cache; {len(result.failed)} failed"
              + (f" (first: {escape_rich(result.failed[0][1])})" if result.failed else ""), highlight=False)


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
    table = Table(title=f"{len(rows)} cached {escape_rich(generator)} texts for {escape_rich(target)} "
                        f"(showing {min(limit, len(rows))})",
                  title_justify="left")
    table.add_column("source")
    table.add_column("#")
    table.add_column("synthetic text")
    for r in rows[:limit]:
        table.add_row(str(r["source_id"]), str(r["sample_index"]), escape_rich(r["text"]))
    out.print(table)
