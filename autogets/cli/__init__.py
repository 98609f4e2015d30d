"""The ``autogets`` command. Thin: each command module parses options, calls the library and renders the result.

Errors a user can cause (:class:`autogets.errors.AutogetsError`) become one line on stderr and exit code 2 (control
characters in the message made visible, newlines too: :func:`autogets.textfmt.visible_controls`), and so do faults
of the machine: a full disk, a read-only workspace, a damaged database (:mod:`autogets.faults`).
``autogets`` never imports ``agent`` or ``bot``: their commands (``chat``, ``bot``) live in those packages
(``agent/cli.py``, ``bot/cli.py``) and join this one ``autogets`` command through the ``autogets.commands`` entry
points of ``pyproject.toml``.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Annotated

import typer

from autogets import __version__
from autogets.cli import bench, data, generate, improve, kb, models, predict, runs, search
from autogets.cli.common import err, out
from autogets.errors import AutogetsError
from autogets.faults import describe
from autogets.textfmt import visible_controls

try:  # typer >= 0.20 vendors its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Improve a text classifier's weak classes with LLM-generated data chosen by search.")
app.command()(data.datasets)
app.command()(data.diagnose)
app.command()(generate.generate)
app.command()(generate.samples)
app.command()(search.search)
app.command()(improve.improve)
app.command()(predict.predict)
app.add_typer(kb.kb_app, name="kb")
app.add_typer(models.models_app, name="models")
app.add_typer(runs.runs_app, name="runs")
app.add_typer(bench.bench_app, name="bench")


def _plugin_commands() -> None:
    """Commands other packages add (``[project.entry-points."autogets.commands"]``): the agent's ``chat`` and the
    Slack bot's ``bot``."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="autogets.commands"), key=lambda e: e.name):
        app.command(name=ep.name)(ep.load())


_plugin_commands()


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
        err.print(f"autogets: error: {visible_controls(exc, keep='')}", markup=False, highlight=False,
                  soft_wrap=True)
        return _exit(2, argv)
    except ClickException as exc:
        err.print(f"autogets: error: {visible_controls(exc.format_message(), keep='')}", markup=False,
                  highlight=False, soft_wrap=True)
        return _exit(exc.exit_code, argv)
    except (typer.Abort, KeyboardInterrupt):
        err.print("autogets: interrupted", markup=False)
        return _exit(130, argv)
    except (OSError, sqlite3.Error) as exc:  # a full disk, a read-only workspace, a damaged database: one line
        line = describe(exc)
        if line is None:
            raise
        err.print(f"autogets: error: {line}", markup=False, highlight=False, soft_wrap=True)
        return _exit(2, argv)
    code = result if isinstance(result, int) else 0
    return _exit(code, argv)


def _exit(code: int, argv: list[str] | None) -> int:
    if argv is None:  # called as the console script
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
