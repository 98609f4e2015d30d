"""A ``kill -9`` of ``autogets improve`` (issue 23 item 14): the run reads as stopped, not running forever;
``autogets improve --resume RUN`` (or ``runs resume``) continues it from its last finished step, and a run whose
recipe equals an existing version's reuses that version instead of registering the same model again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autogets.cli import main
from autogets.workspace import Workspace

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def improve_args(data: Path, ws: Path) -> list[str]:
    return ["improve", "--data", str(data), "--class", "ABBR", "--generator", "eda", "--n", "3", "--budget", "60",
            "--max-phases", "1", "--executor", "serial", "--fitness", "validation", "--accept", "no_drop",
            "--workspace", str(ws), "--classifier", "linear", "--json"]


def test_a_killed_improve_reads_as_stopped_resumes_and_an_identical_recipe_is_not_registered_twice(
        trec6_slice, tmp_path, capsys):
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "autogets", *improve_args(trec6_slice, ws)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once the search has stored its first evaluations
        if (ws / "autogets.db").exists():
            try:
                if Workspace(ws).db().execute("SELECT count(*) FROM evaluations").fetchone()[0] > 0:
                    break
            except Exception:  # the schema may not exist yet
                pass
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    assert main(["runs", "list", "--json", "--workspace", str(ws)]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] == "stopped" and "search" not in run["steps"]

    assert main(["improve", "--resume", run["id"], "--workspace", str(ws), "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["run_id"] == run["id"] and resumed["model_id"] == "trec6_slice-v1"
    reused = Workspace(ws).db().execute("SELECT count(*) FROM evaluations WHERE run_id = ?", [run["id"]]).fetchone()
    assert reused[0] > 0
    assert main(["improve", "--resume", run["id"], "--workspace", str(ws)]) == 2
    assert "already finished" in capsys.readouterr().err

    assert main(improve_args(trec6_slice, ws)) == 0  # the same request again: the same recipe
    again = json.loads(capsys.readouterr().out)
    assert again["run_id"] != run["id"] and again["model_id"] == "trec6_slice-v1"
    assert again["same_as"] == "trec6_slice-v1"
    assert main(["models", "list", "--json", "--workspace", str(ws)]) == 0
    assert [m["id"] for m in json.loads(capsys.readouterr().out)] == ["trec6_slice-v1"]
