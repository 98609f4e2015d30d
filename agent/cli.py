"""`autogets chat`: the agent in the terminal (progress bars, review pages, the final report).

It lives in ``agent`` (``autogets`` never imports ``agent``) and joins the ``autogets`` command through the
``autogets.commands`` entry point.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from autogets.cli.common import JsonOpt, WorkspaceOpt, err, out, progress_bars
from autogets.cli.review import ask_terminal
from autogets.textfmt import escape_rich


class TerminalNotifier:
    """Prints the team notifications as dim lines."""

    def notify(self, kind: str, payload: dict[str, Any]) -> None:
        if kind in ("model_registered", "promoted", "rolled_back"):
            err.print(f"[dim]notify: {kind} {escape_rich(str(payload.get('model_id')))}[/]")


def chat(request: Annotated[str | None, typer.Argument(help='What to do, e.g. "improve ABBR on trec6".')] = None,
         yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every review page (scripts, CI).")] = False,
         resume: Annotated[str | None, typer.Option("--resume", help="Continue a thread (see --list).")] = None,
         list_threads: Annotated[bool, typer.Option("--list", help="List threads and their state.")] = False,
         graph: Annotated[Path | None, typer.Option("--graph", help="Write the graph as Mermaid to this file "
                                                    "(and a PNG beside it if graphviz is installed).")] = None,
         user: Annotated[str, typer.Option("--user", help="Who is asking (recorded; reviews by others are "
                                           "refused unless listed in AUTOGETS_APPROVERS).")] = "cli",
         generator: Annotated[str | None, typer.Option("--generator", "-g", help="embedded (default) | openai | "
                                                       "eda")] = None,
         budget: Annotated[int | None, typer.Option("--budget", min=1, help="Evaluations per phase.")] = None,
         executor: Annotated[str | None, typer.Option("--executor", help="local (default, or AUTOGETS_EXECUTOR) "
                                                      "| serial | ray")] = None,
         workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Talk to the agent: improve a class with review of the generated texts, or ask for status, models, help.

    Example: autogets chat "improve ABBR on trec6"
    """
    if graph is not None:
        _write_graph(graph)
        return
    from agent.context import AgentContext
    from agent.service import Agent, read_threads
    from autogets.config import load_settings
    from autogets.workspace import Workspace

    settings = load_settings()
    if list_threads:
        _print_threads(read_threads(workspace or settings.workspace), json_out)
        return
    ws = Workspace(workspace or settings.workspace)
    ws.check_database()
    ws.require_writable()  # a read-only workspace: one line before the agent starts
    overrides: dict[str, Any] = {"executor": executor} if executor else {}
    if workspace is not None:
        overrides["workspace"] = workspace
    if generator:
        overrides["generator"] = generator
    if budget:
        overrides["budget"] = budget
    ctx = AgentContext.from_settings(settings, notifier=TerminalNotifier(), **overrides)
    agent = Agent(ctx)
    try:
        reviewer = ask_terminal(err, eof_cancels=False)
        with progress_bars(not json_out) as bars:
            on_event = _event_printer(bars)
            if resume:
                turn = agent.resume(resume, on_event=on_event)
            elif request:
                conversation = f"terminal:{uuid.uuid4()}"
                err.print(f"[dim]thread {agent.thread_for(conversation)} (continue with `autogets chat --resume "
                          f"{agent.thread_for(conversation)}`)[/]")
                turn = agent.ask(conversation, request, user=user, on_event=on_event)
            else:
                raise typer.BadParameter("say what to do, e.g. autogets chat \"improve ABBR on trec6\"")
            turn = _review_loop(agent, turn, reviewer, yes=yes, user=user, on_event=on_event)
    finally:
        agent.close()
    _print_turn(turn, json_out)
    if turn.status in ("failed", "refused", "running"):  # running: stopped or busy, resumable
        raise typer.Exit(1)


def _review_loop(agent, turn, reviewer, *, yes: bool, user: str, on_event):
    from agent.api import ReviewDecision

    while turn.status == "review" and turn.review is not None:
        page = turn.review
        if yes:
            decision = {"action": "approve_all", "ids": []}
        else:
            shown = {"page": page.page, "pages": page.pages, "target": page.target, "totals": page.totals,
                     "page_samples": page.page_samples, "samples": [s.__dict__ for s in page.samples]}
            if turn.text and not turn.text.startswith("Review synthetic"):
                err.print(escape_rich(turn.text))
            decision = reviewer(shown)
            if decision.get("eof"):
                err.print(f"autogets: the run waits for review; continue with `autogets chat --resume "
                          f"{turn.thread_id}`")
                raise typer.Exit(0)
        turn = agent.review(turn.thread_id, ReviewDecision(action=decision["action"],
                                                           ids=tuple(decision.get("ids", ())),
                                                           hint=decision.get("hint", ""), token=page.token),
                            user=user, on_event=on_event)
    return turn


def _event_printer(bars):
    def on_event(event: dict[str, Any]) -> None:
        step = event.get("step")
        if step == "plan":
            out.print(f"Plan for {escape_rich(event['target'])} from the {event['plan_source']}:")
            for i, p in enumerate(event["phases"]):
                out.print(f"  {i + 1}. {escape_rich(p)}")
            if event.get("message"):
                out.print(escape_rich(event["message"]))
        elif step in ("generate", "search") and event.get("total") and bars is not None:
            bars(event.get("phase") or step, event["done"], event["total"])
        elif step == "search" and "decision" in event:
            colour = "green" if event["accepted"] else "yellow"
            out.print(f"  [{colour}]{escape_rich(event['phase'])}: {escape_rich(event['decision'])}[/]")

    return on_event


def _print_turn(turn, json_out: bool) -> None:
    if json_out:
        out.print_json(json.dumps(turn.to_dict(), default=str))
        return
    if turn.report and turn.status in ("done", "no_gain"):
        from autogets.cli.common import metrics_table
        from autogets.report import metrics_of

        m0, final = metrics_of(turn.report)
        model_id = escape_rich(turn.report.get("model_id") or "model unchanged")
        out.print(metrics_table(f"Test split: improved vs M0 ({model_id})",
                                final, baseline=m0, flagged=(turn.report["class"],)))
        out.print(escape_rich(f"Report: {turn.report['report_dir']}/report.md"))
    out.print(escape_rich(turn.text), highlight=False)


def _print_threads(threads: list[dict], json_out: bool) -> None:
    if json_out:
        out.print_json(json.dumps(threads))
        return
    from rich.table import Table

    table = Table(title="Agent threads", title_justify="left")
    for col in ("thread", "status", "run", "requester", "command", "updated"):
        table.add_column(col)
    for t in threads:
        table.add_row(*(escape_rich(t[k] or "") for k in ("thread_id", "status", "run_id", "requester", "command",
                                                          "updated_at")))
    out.print(table)


def _write_graph(path: Path) -> None:
    from agent.graph import build_graph

    drawable = build_graph().get_graph()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(drawable.draw_mermaid())
    out.print(f"Mermaid diagram written to {path}")
    try:
        png = path.with_suffix(".png")
        drawable.draw_png(str(png))  # needs pygraphviz; mermaid.ink rendering would need the network
        out.print(f"PNG written to {png}")
    except Exception:  # noqa: BLE001 - optional rendering
        out.print("[dim]no PNG: install pygraphviz (graphviz) to render one offline[/]")
