"""`autogets runs`: the jobs a team started (improve, search, diagnose), their state and what they produced."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from autogets.cli.common import ExecutorOpt, JsonOpt, WorkspaceOpt, _existing_workspace, out
from autogets.textfmt import escape_rich

runs_app = typer.Typer(no_args_is_help=True, help="Runs: list and show (state, steps done, gains, model).")


def _summary(ws, row: dict) -> dict:
    from autogets.runs import shown_status

    params, result = json.loads(row["params"] or "{}"), json.loads(row["result"] or "{}")
    steps = [r[0] for r in ws.db().execute("SELECT step FROM run_steps WHERE run_id = ? ORDER BY at, step",
                                           [row["id"]]).fetchall()]
    report = ws.db().execute("SELECT data FROM run_steps WHERE run_id = ? AND step = 'report'",
                             [row["id"]]).fetchone()
    test = json.loads(report[0])["test"] if report else {}
    return {"id": row["id"], "kind": row["kind"], "dataset": row["dataset"], "status": shown_status(ws, row),
            "class": params.get("target") or result.get("class"), "requester": params.get("requester"),
            "created_at": row["created_at"], "finished_at": row["finished_at"], "steps": steps,
            "test_cba_gain": test.get("class_cba_gain", result.get("test_cba_gain")),
            "interval": test.get("interval"), "test_support": test.get("support"),
            "model_id": result.get("model_id"), "error": result.get("error"),
            "report_dir": str(ws.stored_report_dir(row["report_dir"])) if row["report_dir"] else None}


@runs_app.command("list")
def runs_list(dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this data set.")] = None,
              limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 20,
              workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List runs, newest first. Example: autogets runs list --dataset trec6"""
    ws = _existing_workspace(workspace)
    sql = "SELECT * FROM runs" + (" WHERE dataset = ?" if dataset else "") + " ORDER BY created_at DESC LIMIT ?"
    rows = [_summary(ws, r) for r in ws.db().query(sql, [*([dataset] if dataset else []), limit])]
    if json_out:
        out.print_json(json.dumps(rows))
        return
    table = Table(title="Runs", title_justify="left")
    for col in ("id", "kind", "dataset", "class", "status", "test CBA gain", "model", "created"):
        table.add_column(col)
    for r in rows:
        gain = f"{r['test_cba_gain']:+.3f}" if isinstance(r["test_cba_gain"], int | float) else ""
        table.add_row(escape_rich(r["id"]), escape_rich(r["kind"]), escape_rich(r["dataset"]),
                      escape_rich(r["class"] or ""), escape_rich(r["status"]), gain, escape_rich(r["model_id"] or ""),
                      escape_rich(r["created_at"]))
    out.print(table)


@runs_app.command("resume")
def runs_resume(run_id: Annotated[str, typer.Argument(help="A stopped improve run (see `autogets runs list`).")],
                executor: ExecutorOpt = "local", workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Continue an improve run that stopped (its process was killed, or a step failed) from its last finished
    step; the same as `autogets improve --resume RUN`."""
    from autogets.cli.improve import improve

    improve(resume=run_id, executor=executor, workspace=workspace, json_out=json_out)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="A run id from `autogets runs list`.")],
              workspace: WorkspaceOpt = None) -> None:
    """Show one run: state, steps done, gain with its interval, the model it registered."""
    from autogets.steps import run_row

    ws = _existing_workspace(workspace)
    out.print_json(json.dumps(_summary(ws, run_row(ws, run_id))))
