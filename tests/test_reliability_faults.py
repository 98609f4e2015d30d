"""Faults of the workspace itself (issue 23, part 2): a moved or copied workspace, a lost database, a killed parent
of the process pool, a full disk, a read-only workspace, a damaged database. Each ends in one line on stderr and exit
code 2 (never a traceback), or just works; what was stored stays consistent."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from autogets.cli import main
from autogets.registry import Registry
from autogets.workspace import Workspace

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]
DATASET = "trec6_slice"
MODEL = f"{DATASET}-v1"
PROBE = "What does NASA stand for ?"


def improve_args(data: Path, ws: Path, *more: str) -> list[str]:
    """A fast `improve` that always registers a model (EDA texts, the paper's acceptance rule)."""
    return ["improve", "--data", str(data), "--class", "ABBR", "--generator", "eda", "--budget", "6",
            "--executor", "serial", "--workspace", str(ws), "--fitness", "validation", "--accept", "no_drop", *more]


@pytest.fixture(scope="module")
def improved(trec6_slice, tmp_path_factory) -> Path:
    """A workspace whose trec6_slice production model (v1) came from a real `improve` run. Copy it, don't change it."""
    ws = tmp_path_factory.mktemp("faults") / "ws"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(improve_args(trec6_slice, ws, "--promote")) == 0
    Workspace(ws).close()
    return ws


def cli(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (),
        timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m autogets ARGS` in a new process (``prefix``: e.g. setpriv to drop capabilities)."""
    return subprocess.run([*prefix, sys.executable, "-m", "autogets", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def one_line_error(result: subprocess.CompletedProcess | tuple[int, str], *needles: str) -> str:
    """The single ``autogets: error:`` line of a failed command (exit code 2), which contains every needle."""
    code, stderr = (result.returncode, result.stderr) if isinstance(result, subprocess.CompletedProcess) else result
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("autogets: error: "), (code, stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- 12. a moved or copied workspace -----------------------------------------------------------------------------


def test_a_moved_or_copied_workspace_uses_its_own_files(improved, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(improved, copy, symlinks=True)            # cp -a
    record = Registry(Workspace(copy)).get(MODEL)
    assert Path(record.artifact).resolve() == (copy / "models" / DATASET / f"{MODEL}.joblib").resolve()
    joblib.dump({"not": "the original"}, record.artifact)      # the copy's own file is the one it loads
    assert Registry(Workspace(copy)).load(MODEL) == {"not": "the original"}
    assert Registry(Workspace(improved)).load(MODEL) != {"not": "the original"}

    moved = tmp_path / "moved"
    shutil.copytree(improved, tmp_path / "before-move", symlinks=True)
    os.rename(tmp_path / "before-move", moved)                # mv
    code, out, err = run_main(capsys, "predict", "--model", MODEL, "--text", PROBE, "--workspace", str(moved),
                              "--json")
    assert code == 0, err
    assert json.loads(out)["model_id"] == MODEL
    code, out, err = run_main(capsys, "models", "show", MODEL, "--workspace", str(moved))
    assert code == 0 and Path(json.loads(out)["artifact"]).resolve().parent.parent.parent == moved.resolve()
    code, out, err = run_main(capsys, "runs", "list", "--json", "--workspace", str(moved))
    (run,) = json.loads(out)
    assert Path(run["report_dir"]).resolve().parent.parent == moved.resolve()
    assert (Path(run["report_dir"]) / "report.json").is_file()
    code, out, err = run_main(capsys, "models", "export", MODEL, "--out", str(tmp_path / "m.joblib"),
                              "--workspace", str(moved))
    assert code == 0, err


def test_a_workspace_written_with_absolute_paths_is_read_relative_to_where_it_is_now(improved, tmp_path, capsys):
    """Workspaces made before paths were stored relative: the absolute path under the old root is read as relative
    (and the schema migration rewrites it)."""
    old = tmp_path / "old"
    shutil.copytree(improved, old, symlinks=True)
    with sqlite3.connect(old / "autogets.db") as conn:
        conn.execute("UPDATE models SET artifact = ?", [f"/gone/place/ws/models/{DATASET}/{MODEL}.joblib"])
        conn.execute("UPDATE _meta SET value = '8' WHERE key = 'schema_version'")
    conn.close()
    code, out, err = run_main(capsys, "predict", "--model", MODEL, "--text", PROBE, "--workspace", str(old))
    assert code == 0, err
    stored = sqlite3.connect(old / "autogets.db").execute("SELECT artifact FROM models").fetchone()[0]
    assert stored == f"models/{DATASET}/{MODEL}.joblib"
