from __future__ import annotations

import json
import sqlite3

import pytest

from autogets.config import load_settings
from autogets.errors import ConfigError, WorkspaceError
from autogets.workspace import SCHEMA_VERSION, Workspace, atomic_folder, migrate, write_json_atomic


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
