"""Assertions on what a CLI run printed, shared by the tests that run the CLI."""

from __future__ import annotations

import subprocess


def one_line_error(result: subprocess.CompletedProcess | tuple[int, str], *needles: str) -> str:
    """The single ``autogets: error:`` line of a failed command (exit code 2, no traceback), which contains every
    needle. ``result``: a finished subprocess, or (exit code, stderr)."""
    code, stderr = (result.returncode, result.stderr) if isinstance(result, subprocess.CompletedProcess) else result
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("autogets: error: "), (code, stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
