from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from autogets.config import load_settings
from autogets.errors import ConfigError, WorkspaceError
from autogets.knowledge import record_result
from autogets.workspace import (
    SCHEMA_VERSION,
    Workspace,
    atomic_folder,
    migrate,
    write_json_atomic,
    write_transaction,
)
from tests.workers import fill_folder, open_and_migrate, run_processes, search_result, write_rows

pytestmark = pytest.mark.reliability  # issue 16: concurrent writers and migrations, atomic writes, corrupt databases


def test_workspace_is_lazy_and_schema_created_on_first_use(workspace):
    ws = Workspace(workspace)
    assert not workspace.exists()
    db = ws.db()
    assert workspace.exists()
    assert "runs" in db.table_names() and "generations" in db.table_names()
    version = db.execute("SELECT value FROM _meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION  # idempotent


def test_newer_schema_is_refused(workspace):
    ws = Workspace(workspace)
    ws.db().execute("UPDATE _meta SET value='999' WHERE key='schema_version'")
    ws.db().conn.commit()
    ws.close()
    with pytest.raises(WorkspaceError, match="newer than this autogets"):
        Workspace(workspace).db()


def test_corrupt_database_is_reported(workspace):
    workspace.mkdir()
    (workspace / "autogets.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(WorkspaceError, match="not a usable SQLite database"):
        Workspace(workspace).db()


def test_atomic_folder_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "report"
    with pytest.raises(RuntimeError), atomic_folder(final) as tmp:
        (tmp / "half.json").write_text("{")
        raise RuntimeError("crash")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with atomic_folder(final) as tmp:
        (tmp / "ok.json").write_text("{}")
    assert (final / "ok.json").exists()


def test_write_json_atomic_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_settings_from_toml_and_env(tmp_path):
    cfg = tmp_path / "autogets.toml"
    cfg.write_text('[autogets]\nworkspace = "wsx"\nseed = 7\n[autogets.llm]\nbase_url = "http://h/v1"\n')
    s = load_settings(env={"AUTOGETS_CONFIG": str(cfg), "OPENAI_API_KEY": "sk-secret"})
    assert (str(s.workspace), s.seed, s.llm.base_url, s.llm.api_key) == ("wsx", 7, "http://h/v1", "sk-secret")
    assert "sk-secret" not in repr(s)
    s2 = load_settings(env={"AUTOGETS_CONFIG": str(cfg), "AUTOGETS_HOME": "/w", "AUTOGETS_SEED": "3"})
    assert (str(s2.workspace), s2.seed) == ("/w", 3)
    cfg.write_text("[autogets\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(env={"AUTOGETS_CONFIG": str(cfg)})


def test_sqlite_file_is_real_sqlite(workspace):
    Workspace(workspace).db()
    with sqlite3.connect(workspace / "autogets.db") as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_concurrent_first_opens_migrate_once(tmp_path):
    roots = [str(tmp_path / f"ws{k}") for k in range(10)]  # 10 rounds: 4 processes open each new workspace at once
    results = run_processes(open_and_migrate, [(roots,)] * 4)
    errors = [v for status, v in results if status == "error"]
    assert not errors, errors[0]
    for k, found in enumerate(zip(*(v for _, v in results), strict=True)):
        assert sorted(found, key=str) == [0] + [SCHEMA_VERSION] * 3, (k, found)  # one process applied them
    for root in roots:
        db = Workspace(root).db()
        assert db.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_concurrent_writer_processes_on_a_fresh_workspace(tmp_path):
    root = str(tmp_path / "ws")
    results = run_processes(write_rows, [(root, w, 5) for w in range(8)])
    errors = [v for status, v in results if status == "error"]
    assert not errors, errors[0]
    db = Workspace(root).db()
    assert db["runs"].count == 8 * 5
    assert db.execute("SELECT count(*) FROM knowledge").fetchone()[0] == 8 * 5


def test_threads_sharing_one_workspace_each_get_their_own_connection(workspace):
    ws = Workspace(workspace)
    ws.db()
    errors: list[BaseException] = []
    connections: dict[int, list[sqlite3.Connection]] = {}

    def work(t: int) -> None:
        try:
            for i in range(20):
                connections.setdefault(t, []).append(ws.db().conn)
                ws.record_run(f"t{t}-{i}", "test", "d", started_at="t", params={}, result={}, report_dir=workspace)
                record_result(ws, search_result(gain=t + i / 100), dataset="d", target="a", objective="cba",
                              seed=t, generator="eda", budget=10, test_gain=None, run_id=f"t{t}-{i}",
                              classifier="linear")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, repr(errors[0])
    assert all(len({id(c) for c in conns}) == 1 for conns in connections.values())  # one per thread, reused
    assert len({id(conns[0]) for conns in connections.values()}) == 8  # all kept alive here: ids are unique
    db = ws.db()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    assert db["runs"].count == 8 * 20
    assert {r["seed"] for r in db.query("SELECT DISTINCT seed FROM knowledge")} == set(range(8))
    ws.close()


def test_processes_replacing_one_folder_at_once_all_succeed(tmp_path):
    final = tmp_path / "report"
    results = run_processes(fill_folder, [(str(final), w, 30) for w in range(4)])
    errors = [v for status, v in results if status == "error"]
    assert not errors, errors[0]
    contents = {(final / name).read_text() for name in ("a.txt", "b.txt", "c.txt")}
    assert len(contents) == 1  # one writer's complete folder, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no temporary or set-aside folder left


def test_write_transaction_commits_whole_or_nothing(workspace):
    ws = Workspace(workspace)
    run = {"id": "r1", "kind": "test", "dataset": "d"}
    with pytest.raises(RuntimeError), write_transaction(ws.db()) as db:
        db["runs"].insert(run)
        with write_transaction(db):  # nested: a savepoint of the outer transaction
            db["runs"].insert({**run, "id": "r2"})
        raise RuntimeError("crash after both inserts")
    assert ws.db()["runs"].count == 0 and not ws.db().conn.in_transaction
    with write_transaction(ws.db()) as db:
        db["runs"].insert(run)
    assert ws.db()["runs"].count == 1
