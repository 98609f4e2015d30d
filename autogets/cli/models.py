"""`autogets models`: versions, promote, rollback, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from autogets.cli.common import (
    ActorOpt,
    DatasetOpt,
    JsonOpt,
    WorkspaceOpt,
    _existing_workspace,
    out,
    print_mlflow,
)
from autogets.textfmt import escape_rich, visible_controls

models_app = typer.Typer(no_args_is_help=True, help="Model versions: list, show, promote, rollback, export.")


@models_app.command("list")
def models_list(dataset: DatasetOpt = None, workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List model versions, with the data set each belongs to (name@content fingerprint: two files of one name are
    two data sets, each with its own lineage and production version).

    Example: autogets models list --dataset trec6
    """
    from autogets.identity import as_identity
    from autogets.registry import Registry

    versions = Registry(_existing_workspace(workspace)).list(as_identity(dataset) if dataset else None)
    if json_out:
        out.print_json(json.dumps([{"id": v.id, "dataset": v.dataset, "fingerprint": v.dataset_fp,
                                    "status": v.status, "parent": v.parent, "created_at": v.created_at,
                                    "created_by": v.created_by, **v.summary} for v in versions]))
        return
    table = Table(title="Model versions", title_justify="left")
    for col in ("id", "data set", "status", "parent", "goal", "test CBA gain", "synthetic", "created", "by"):
        table.add_column(col, no_wrap=col in ("id", "data set"))
    for v in versions:
        table.add_row(escape_rich(v.id), escape_rich(v.identity.key), v.status, escape_rich(v.parent or ""),
                      escape_rich(v.summary.get("goal", "")),
                      f"{v.summary.get('test_cba_gain', 0):+.3f}", str(v.summary.get("synthetic_texts", "")),
                      v.created_at, escape_rich(v.created_by))
    out.print(table)


@models_app.command("show")
def models_show(model_id: Annotated[str, typer.Argument(help="e.g. trec6-v2")], workspace: WorkspaceOpt = None) -> None:
    """Show one model version with its recipe summary and history."""
    from autogets.registry import Registry

    reg = Registry(_existing_workspace(workspace))
    v = reg.get(model_id)
    out.print_json(json.dumps({"id": v.id, "dataset": v.dataset, "fingerprint": v.dataset_fp, "status": v.status,
                               "parent": v.parent,
                               "created_at": v.created_at, "created_by": v.created_by, "summary": v.summary,
                               "artifact": v.artifact, "real_train_examples": len(v.recipe.get("real_train_ids", [])),
                               "synthetic_texts": len(v.recipe.get("synthetic", [])),
                               "test_overall": v.metrics_test.get("overall"),
                               "events": [e for e in reg.events(v.identity) if e["model_id"] == v.id]}))


@models_app.command("promote")
def models_promote(model_id: Annotated[str, typer.Argument(help="e.g. trec6-v2")], actor: ActorOpt = "cli",
                   workspace: WorkspaceOpt = None) -> None:
    """Make a version the production model of its data set (recorded with actor and time)."""
    from autogets.registry import Registry

    registry = Registry(_existing_workspace(workspace, write=True))
    v = registry.promote(model_id, actor=actor)
    out.print(visible_controls(f"{v.id} is now in production for {v.identity.key} (by {actor})"), markup=False)
    print_mlflow(registry.mlflow_status)


@models_app.command("rollback")
def models_rollback(dataset: Annotated[str, typer.Option("--dataset", "-d", help="Data set name (name@fingerprint "
                                                      "when several data sets share it; see `models list`).")],
                    actor: ActorOpt = "cli", workspace: WorkspaceOpt = None) -> None:
    """Put back the previous production version of a data set (recorded with actor and time)."""
    from autogets.identity import resolve
    from autogets.registry import Registry

    ws = _existing_workspace(workspace, write=True)
    registry = Registry(ws)
    v = registry.rollback(resolve(ws.db(), dataset), actor=actor)
    out.print(visible_controls(f"Rolled back: {v.id} is in production for {v.identity.key} again (by {actor})"),
              markup=False)
    print_mlflow(registry.mlflow_status)


@models_app.command("sync")
def models_sync(all_versions: Annotated[bool, typer.Option("--all", help="Also log the versions MLflow does not "
                                                           "have yet (registered before it was configured, or "
                                                           "logged to another tracking URI).")] = False,
                workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> int:
    """Push what is pending to MLflow (AUTOGETS_MLFLOW_TRACKING_URI): versions not logged yet (the server was
    unreachable) and the production alias. Exit code 1 if something is still pending.

    Example: AUTOGETS_MLFLOW_TRACKING_URI=http://127.0.0.1:5000 autogets models sync
    """
    from autogets.errors import ConfigError
    from autogets.registry import Registry

    registry = Registry(_existing_workspace(workspace, write=True))
    if not registry.mlflow_uri:
        raise ConfigError("MLflow is not configured: set AUTOGETS_MLFLOW_TRACKING_URI (or [autogets.mlflow] "
                          "tracking_uri in autogets.toml) and install autogets[mlflow]")
    status = registry.sync_mlflow(backfill=all_versions)
    if json_out:
        out.print_json(json.dumps(status.to_dict()))
    else:
        print_mlflow(status)
    return 0 if status.ok else 1


@models_app.command("export")
def models_export(model_id: Annotated[str, typer.Argument(help="e.g. trec6-v2")],
                  output: Annotated[Path, typer.Option("--out", help="Artifact file to write, e.g. trec6-v2.joblib; "
                                                       "the model card goes beside it (.card.json).")],
                  workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Export a version: a self-contained joblib artifact plus a JSON model card beside it.

    Example: autogets models export trec6-v2 --out trec6-v2.joblib
    """
    from autogets.export import export_model

    card_file, card = export_model(model_id, output, _existing_workspace(workspace))
    if json_out:
        out.print_json(json.dumps({"artifact": str(output), "card": str(card_file), **card}))
        return
    gain = card["metrics"]["class_cba_gain"]
    test_gain = f"{gain['test']:+.3f}" if gain["test"] is not None else "n/a"
    out.print(f"Exported {model_id} to {output} ({card['artifact']['bytes']:,} bytes) and {card_file}: "
              f"{card['recipe']['real_train_examples']} real + {card['recipe']['synthetic_texts']} synthetic texts, "
              f"{gain['class']} test CBA gain {test_gain}")
    out.print(f"[dim]Load it with joblib.load({str(output)!r}).predict(texts); needs "
              + ", ".join(f"{k} {v}" for k, v in card["requires"].items()) + "[/]")
