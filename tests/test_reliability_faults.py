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
from tests.cli_checks import one_line_error

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[1]
DATASET = "trec6_slice"
MODEL = f"{DATASET}-v1"
PROBE = "What does NASA stand for ?"


def improve_args(data: Path, ws: Path, *more: str) -> list[str]:
    """A fast `improve` that always registers a model (EDA texts, the paper's acceptance rule)."""
    return ["improve", "--data", str(data), "--class", "ABBR", "--generator", "eda", "--budget", "6",
            "--executor", "serial", "--workspace", str(ws), "--fitness", "validation", "--accept", "no_drop", "--json",
            *more]


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


def test_a_run_stopped_after_its_report_resumes_in_a_moved_workspace(improved, tmp_path, capsys):
    """The report step stored the report folder of the day; resumed after `mv ws moved`, the run registers the
    model file from the moved folder (the old path no longer exists) and reports where it is now."""
    ws = tmp_path / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    (run_id,) = [r[0] for r in Workspace(ws).db().execute("SELECT id FROM runs WHERE kind = 'improve'").fetchall()]
    Workspace(ws).close()
    with sqlite3.connect(ws / "autogets.db") as conn:  # as if killed between the report and the registration
        conn.execute("DELETE FROM run_steps WHERE run_id = ? AND step = 'register'", [run_id])
        conn.execute("DELETE FROM model_events")
        conn.execute("DELETE FROM models")
        conn.execute("UPDATE runs SET status = 'running', result = NULL WHERE id = ?", [run_id])
    conn.close()
    shutil.rmtree(ws / "models" / DATASET)
    moved = tmp_path / "moved"
    os.rename(ws, moved)

    code, out, err = run_main(capsys, "improve", "--resume", run_id, "--workspace", str(moved), "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["model_id"] == MODEL
    assert Path(resumed["report_dir"]).resolve().parent.parent == moved.resolve()
    assert Registry(Workspace(moved)).load(MODEL) is not None


def test_a_workspace_written_with_absolute_paths_is_read_relative_to_where_it_is_now(improved, tmp_path, capsys):
    """Workspaces made before paths were stored relative: the absolute path under the old root is read as relative
    (and the schema migration rewrites it)."""
    old = tmp_path / "old"
    shutil.copytree(improved, old, symlinks=True)
    with sqlite3.connect(old / "autogets.db") as conn:
        conn.execute("UPDATE models SET artifact = ?", [f"/gone/place/ws/models/{DATASET}/{MODEL}.joblib"])
        conn.execute("UPDATE _meta SET value = '9' WHERE key = 'schema_version'")
    conn.close()
    code, out, err = run_main(capsys, "predict", "--model", MODEL, "--text", PROBE, "--workspace", str(old))
    assert code == 0, err
    stored = sqlite3.connect(old / "autogets.db").execute("SELECT artifact FROM models").fetchone()[0]
    assert stored == f"models/{DATASET}/{MODEL}.joblib"


# --- 13. a lost database next to the registry's model files; the embedded LLM's copy out of the registry's folders


@pytest.mark.parametrize("loss", ["empty", "missing"])
def test_a_lost_database_beside_model_files_stops_every_command_with_one_line(loss, improved, trec6_slice, tmp_path,
                                                                              capsys):
    ws = tmp_path / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    for suffix in ("-wal", "-shm"):
        (ws / f"autogets.db{suffix}").unlink(missing_ok=True)
    if loss == "empty":
        (ws / "autogets.db").write_bytes(b"")
    else:
        (ws / "autogets.db").unlink()
    files = sorted(p.name for p in (ws / "models" / DATASET).iterdir())
    for args in (["models", "list"], ["runs", "list"], ["predict", "--dataset", DATASET, "--text", PROBE],
                 improve_args(trec6_slice, ws)):
        if "--workspace" not in args:
            args = [*args, "--workspace", str(ws)]
        code, out, err = run_main(capsys, *args)
        line = one_line_error((code, err), str(ws / "autogets.db"), "model file", "backup")
        assert loss in line
    assert sorted(p.name for p in (ws / "models" / DATASET).iterdir()) == files   # no new trec6_slice-v1 beside
    assert (ws / "autogets.db").exists() == (loss == "empty")
    if loss == "empty":
        assert (ws / "autogets.db").stat().st_size == 0


def test_the_embedded_llm_copy_lives_outside_the_registry_folders_and_an_old_copy_is_kept(tmp_path):
    from autogets.config import Settings
    from autogets.generators import make_generator

    ws = tmp_path / "ws"
    gen = make_generator("embedded", Settings(workspace=ws))
    assert gen.cache_dir == ws / "cache" / "models" / "embedded"
    assert not gen.converted_dir().is_relative_to(ws / "models")   # a data set may be called `embedded`
    old = ws / "models" / "embedded" / gen.model                     # where earlier versions converted it
    old.mkdir(parents=True)
    (old / "model.safetensors").write_bytes(b"weights")
    (old / "config.json").write_text("{}")
    assert gen.converted_source() == gen.converted_dir()             # moved, not converted again
    assert (gen.converted_dir() / "model.safetensors").read_bytes() == b"weights"
    assert not (ws / "models" / "embedded").exists()


# --- 15. the process pool's workers die with their parent -----------------------------------------------------------

POOL_HOLDER = """
import operator, time
from autogets.executor import LocalExecutor
ex = LocalExecutor(2)
ex.start(list(range(8)))
assert ex.map(operator.getitem, list(range(8))) == list(range(8))
print(ex._dir, flush=True)
time.sleep(600)
"""


def _children() -> dict[int, int]:
    """pid → parent pid of every live (not zombie) process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                if fields[0] != "Z":
                    found[int(entry.name)] = int(fields[1])
    return found


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_killing_the_parent_of_the_process_pool_ends_its_workers_and_resource_tracker_and_its_files():
    import signal
    import time

    holder = subprocess.Popen([sys.executable, "-c", POOL_HOLDER], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        state = Path(holder.stdout.readline().strip())         # the pool's folder of the state it sends workers
        assert state.is_dir()
        pool = _descendants(holder.pid)
        assert len(pool) >= 3, pool                            # 2 workers and the resource tracker
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + 10
        while (left := pool & set(_children())) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"still alive 10 s after their parent was killed: {sorted(left)}"
        assert not state.exists()                              # nothing orphaned in the temporary folder either
    finally:
        holder.kill()
        for pid in (pool if "pool" in locals() else set()) & set(_children()):  # only what this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- 16. a full disk ------------------------------------------------------------------------------------------------


def test_machine_faults_are_described_in_one_line_and_anything_else_is_left_alone(tmp_path):
    import errno

    from autogets import faults

    ws = Workspace(tmp_path / "ws")                              # a workspace this process uses
    inside = str(ws.root / "reports" / "x.json")
    assert faults.describe(OSError(errno.ENOSPC, "No space left on device", inside)) == (
        f"no space left on device writing {inside}: free space and run it again (what was stored is kept and reused)")
    assert "writing in" in faults.describe(OSError(errno.EDQUOT, "Quota", str(ws.root / ".new-1.joblib.tmp")))
    assert faults.describe(OSError(errno.ENOSPC, "No space")).startswith(
        f"no space left on device in workspace {ws.root.absolute()}")
    assert faults.describe(sqlite3.OperationalError("database or disk is full")).startswith("no space left")
    assert faults.describe(OSError(errno.EROFS, "Read-only file system", inside)).startswith(
        f"workspace {ws.root.absolute()} is read-only")
    assert faults.describe(PermissionError(errno.EACCES, "Permission denied", inside)).startswith(
        f"permission denied on {inside}")
    assert faults.describe(sqlite3.OperationalError("attempt to write a readonly database")).startswith(
        f"workspace {ws.root.absolute()} is read-only")
    assert faults.describe(sqlite3.OperationalError("database is locked")).startswith(  # after the busy timeout
        f"{ws.root.absolute() / 'autogets.db'} stayed locked by another process")
    for other in (OSError(errno.ENOENT, "No such file", inside), PermissionError(errno.EACCES, "denied", "/etc/x"),
                  sqlite3.OperationalError("no such table: nope"), ValueError("a bug")):
        assert faults.describe(other) is None, other          # a bug keeps its traceback


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs (tests run as root in CI; skipped where mounting is not permitted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); a full disk needs one")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave_kib: int) -> Path:
    """A file taking all the free space of ``disk`` but ``leave_kib`` KiB."""
    stat = os.statvfs(disk)
    size = stat.f_bavail * stat.f_frsize - leave_kib * 1024
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, max(size, 1))
    return filler


def _consistent(ws: Path, dataset: str = DATASET) -> list[str]:
    """Model versions as the registry has them, after checking the database and that rows and files agree."""
    with contextlib.closing(sqlite3.connect(ws / "autogets.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT id, artifact FROM models ORDER BY version").fetchall()
    assert all((ws / artifact).is_file() for _, artifact in rows)
    assert sorted(p.name for p in (ws / "models" / dataset).glob("*.joblib")) == sorted(
        Path(a).name for _, a in rows)                          # no file named like a version without its row
    return [model_id for model_id, _ in rows]


def test_a_full_disk_is_one_line_and_the_workspace_stays_consistent(improved, trec6_slice, small_disk, capsys):
    ws = small_disk / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    failed = 0
    # free space left when `improve` starts: it runs out opening the database, claiming the data set, storing
    # texts, reviews, report plots, the model file (measured: each stops somewhere else)
    for leave in (0, 32, 96, 200, 300, 400, 600):
        filler = _fill(small_disk, leave)
        if leave == 0:  # a new process: SQLite cannot even grow its shared-memory file ("disk I/O error")
            done = cli(*improve_args(trec6_slice, ws))
            code, err = done.returncode, done.stderr
        else:
            code, out, err = run_main(capsys, *improve_args(trec6_slice, ws))
        if code != 0:
            one_line_error((code, err), "no space left on device", "free space")
            failed += 1
        filler.unlink()
        assert _consistent(ws)[0] == MODEL
    assert failed >= 4
    filler = _fill(small_disk, 0)
    one_line_error(cli("chat", "improve ABBR on trec6", "--yes", "--workspace", str(ws)), "no space left on device")
    filler.unlink()
    code, out, err = run_main(capsys, *improve_args(trec6_slice, ws))  # space again: it runs to the end
    assert code == 0, err
    versions = _consistent(ws)
    assert versions[0] == MODEL and len(versions) >= 2


@pytest.mark.slow
def test_a_disk_filling_during_a_chat_run_stops_it_resumable_and_resume_finishes_it(small_disk):
    ws = small_disk / "ws"
    ws.mkdir()
    options = ("--yes", "--generator", "eda", "--budget", "4", "--executor", "serial", "--workspace", str(ws))
    filler = _fill(small_disk, 300)                            # runs out after the plan (measured)
    stopped = cli("chat", "improve ABBR on trec6", *options)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr, stopped.stderr
    assert "The run stopped: no space left on device" in " ".join(stopped.stdout.split())
    thread = stopped.stderr.split()[1]                         # "thread <id> (continue with …)"
    filler.unlink()
    resumed = cli("chat", "--resume", thread, *options)
    assert resumed.returncode == 0, resumed.stderr
    assert _consistent(ws, "trec6") in ([], ["trec6-v1"])      # one version at most (or no gain)


# --- 17. a read-only workspace --------------------------------------------------------------------------------------

COMMANDS = """
import contextlib, io, json, sys, traceback
from autogets.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    except BaseException:
        code, err = "traceback", io.StringIO(traceback.format_exc())
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def _run_commands(commands: list[list[str]], prefix: tuple[str, ...] = ()) -> list[tuple[object, str, str]]:
    """Run CLI commands one after the other in one new process (``prefix``: e.g. setpriv); (code, out, err) each."""
    done = subprocess.run([*prefix, sys.executable, "-c", COMMANDS, json.dumps(commands)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return [tuple(r) for r in json.loads(done.stdout.strip().splitlines()[-1])]


@pytest.fixture(params=["read-only mount", "no write permission"])
def read_only_workspace(request, improved, tmp_path):
    """A copy of the improved workspace (with an agent thread), closed cleanly (no -wal, -shm files), that cannot be
    written: a read-only bind mount, or no write permission with capabilities dropped (root ignores chmod); yields
    (path, command prefix)."""
    ws = tmp_path / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    assert cli("chat", "help", "--workspace", str(ws)).returncode == 0
    assert sorted(p.name for p in ws.glob("*.db*")) == ["autogets.db", "checkpoints.db"]
    if request.param == "read-only mount":
        target = tmp_path / "ro"
        target.mkdir()
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(ws), str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot bind-mount read-only here ({done.stderr.strip() or done.returncode})")
        yield target, ()
        subprocess.run(["umount", "-l", str(target)], check=False)
        return
    subprocess.run(["chmod", "-R", "a-w", str(ws)], check=True)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        prefix = ("setpriv", "--inh-caps=-all", "--bounding-set=-all")
        if shutil.which("setpriv") is None or subprocess.run([*prefix, "true"]).returncode != 0:
            pytest.skip("root ignores file permissions and setpriv cannot drop its capabilities here")
    yield ws, prefix
    subprocess.run(["chmod", "-R", "u+w", str(ws)], check=True)


def test_read_commands_work_on_a_read_only_workspace_and_the_others_say_it_is_read_only(read_only_workspace,
                                                                                         trec6_slice, tmp_path):
    ws, prefix = read_only_workspace
    run_id = sqlite3.connect(f"file:{ws / 'autogets.db'}?mode=ro&immutable=1", uri=True).execute(
        "SELECT id FROM runs").fetchone()[0]
    at = ["--workspace", str(ws)]
    data = ["--data", str(trec6_slice)]
    reads = [["models", "list", *at], ["models", "show", MODEL, *at], ["runs", "list", *at],
             ["runs", "show", run_id, *at], ["predict", "--dataset", DATASET, "--text", PROBE, *at],
             ["samples", *data, "--class", "ABBR", "--generator", "eda", *at], ["kb", "show", "--dataset", DATASET,
                                                                               *at],
             ["chat", "--list", *at], ["models", "export", MODEL, "--out", str(tmp_path / "out.joblib"), *at]]
    writes = [["diagnose", *data, *at], improve_args(trec6_slice, ws),
              ["generate", *data, "--class", "ABBR", "--generator", "eda", "--n", "1", *at],
              ["search", *data, "--class", "ABBR", "--generator", "eda", "--budget", "2", *at],
              ["kb", "build", *data, "--class", "ABBR", "--generator", "eda", "--budget", "2", *at],
              ["models", "promote", MODEL, *at], ["models", "rollback", "--dataset", DATASET, *at],
              ["chat", "help", *at]]
    results = _run_commands(reads + writes, prefix)
    for args, (code, _out, err) in zip(reads, results[:len(reads)], strict=True):
        assert code == 0, (args, err)
    assert MODEL in results[0][1] and "help" in results[7][1]
    for args, (code, _out, err) in zip(writes, results[len(reads):], strict=True):
        assert code != "traceback", (args, err)
        one_line_error((code, err), f"workspace {ws} is read-only")


# --- 18. garbage in the middle of the database ---------------------------------------------------------------------


def test_a_damaged_database_is_one_line_naming_the_file_and_what_to_do(improved, trec6_slice, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    db = ws / "autogets.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'generations' AND "
                                                "pagetype = 'leaf'")]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find the pages of a table")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert len(pages) >= 3 and min(pages) > 1                   # in the middle: the header and schema are intact
    with open(db, "r+b") as fh:
        for page in pages[1:]:
            fh.seek((page - 1) * size)
            fh.write(os.urandom(size))
    assert cli("models", "list", "--workspace", str(ws)).returncode == 0   # what does not touch those pages works
    for args in (improve_args(trec6_slice, ws),
                 ["samples", "--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda", "--workspace",
                  str(ws)]):
        line = one_line_error(cli(*args), f"{db}:", "malformed", "backup", f"sqlite3 {db} .recover")
        assert "Traceback" not in line


def test_a_workspace_locked_past_the_busy_timeout_gives_one_line(improved, tmp_path, capsys, monkeypatch):
    """Another process holding the write lock longer than the busy timeout (60 s; shortened here): one line that
    says so, exit code 2, no traceback."""
    import autogets.workspace as workspace_module

    ws = tmp_path / "ws"
    shutil.copytree(improved, ws, symlinks=True)
    monkeypatch.setattr(workspace_module, "BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(ws / "autogets.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_main(capsys, "models", "rollback", "--dataset", DATASET, "--workspace", str(ws))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error((result[0], result[2]), "locked by another process", "autogets.db")
