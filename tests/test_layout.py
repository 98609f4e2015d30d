"""The layout's boundaries (DEVELOPERS.md): ``autogets`` imports nothing from ``agent`` or ``bot``; ``agent`` imports
nothing from ``bot``. Checked on the source (every import statement, also inside functions) and at run time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(package: str) -> dict[str, set[str]]:
    """file → the top-level packages it imports."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize(("package", "forbidden"), [("autogets", {"agent", "bot"}), ("agent", {"bot"})])
def test_no_import_in_the_wrong_direction(package, forbidden):
    wrong = {f: sorted(names & forbidden) for f, names in imported_packages(package).items() if names & forbidden}
    assert wrong == {}


def test_the_cli_runs_without_agent_and_bot_being_imported_until_their_commands_run():
    code = ("import sys; from autogets.cli import main; main(['datasets', '--json']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agent', 'bot') and m not in "
            "('agent', 'bot', 'agent.cli', 'bot.cli')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_chat_and_bot_are_still_autogets_commands():
    from autogets.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert {"chat", "bot"} <= names
