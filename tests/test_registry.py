from __future__ import annotations

import os
from pathlib import Path

import pytest

from autogets.cli import main
from autogets.errors import RegistryError
from autogets.registry import Registry
from autogets.workspace import Workspace
from tests.workers import promote_model, register_model, run_processes

pytestmark = pytest.mark.reliability  # issue 16: crash during registration, concurrent registrations and promotions


def register(reg, n, actor="alice"):
    return reg.register({"weights": n}, dataset="trec6", recipe={"real_train_ids": [1, 2], "synthetic": []},
                        metrics_validation={}, metrics_test={"overall": {"accuracy": 0.8 + n / 100}}, actor=actor,
                        summary={"goal": "cba:ABBR"})


def test_versions_promote_and_rollback_are_recorded(workspace):
    reg = Registry(Workspace(workspace))
    v1, v2, v3 = register(reg, 1), register(reg, 2), register(reg, 3)
    assert [v.id for v in reg.list("trec6")] == ["trec6-v1", "trec6-v2", "trec6-v3"]
    assert all(v.status == "candidate" for v in reg.list())
    reg.promote(v1.id, actor="bob")
    reg.promote(v3.id, actor="carol")
    assert reg.production("trec6").id == "trec6-v3"
    assert [v.status for v in reg.list()] == ["archived", "candidate", "production"]
    back = reg.rollback("trec6", actor="dave")
    assert back.id == "trec6-v1" and reg.production("trec6").id == "trec6-v1"
    assert sum(v.status == "production" for v in reg.list()) == 1
    events = [(e["action"], e["model_id"], e["actor"]) for e in reg.events("trec6")]
    assert events[-3:] == [("promote", "trec6-v1", "bob"), ("promote", "trec6-v3", "carol"),
                           ("rollback", "trec6-v1", "dave")]
    assert all(e["at"] for e in reg.events())
    with pytest.raises(RegistryError, match="no earlier production version"):
        reg.rollback("trec6")
    assert reg.load("trec6-v2") == {"weights": 2}
    assert v2.parent is None


def test_errors(workspace):
    reg = Registry(Workspace(workspace))
    with pytest.raises(RegistryError, match="no model version 'trec6-v9'"):
        reg.promote("trec6-v9")
    with pytest.raises(RegistryError, match="no production model"):
        reg.rollback("trec6")
    v = register(reg, 1)
    reg.promote(v.id)
    with pytest.raises(RegistryError, match="already in production"):
        reg.promote(v.id)


def test_crash_between_temp_write_and_rename_keeps_old_version(workspace, monkeypatch):
    reg = Registry(Workspace(workspace))
    register(reg, 1)

    def crash(src, dst):
        raise OSError("disk died during rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk died"):
        register(reg, 2)
    monkeypatch.undo()
    assert [v.id for v in reg.list()] == ["trec6-v1"]
    assert reg.load("trec6-v1") == {"weights": 1}
    folder = workspace / "models" / "trec6"
    assert sorted(p.name for p in folder.iterdir()) == ["trec6-v1.joblib"]  # no temp file left behind


def test_models_cli(workspace, capsys):
    reg = Registry(Workspace(workspace))
    register(reg, 1), register(reg, 2)
    ws = ["--workspace", str(workspace)]
    assert main(["models", "promote", "trec6-v1", "--actor", "erin", *ws]) == 0
    assert main(["models", "promote", "trec6-v2", *ws]) == 0
    assert main(["models", "rollback", "--dataset", "trec6", "--actor", "erin", *ws]) == 0
    assert "trec6-v1 is in production" in capsys.readouterr().out
    assert main(["models", "list", "--json", *ws]) == 0
    assert main(["models", "promote", "nope", *ws]) == 2
    assert "no model version 'nope'" in capsys.readouterr().err


def test_read_only_commands_do_not_create_a_workspace(workspace, capsys):
    for args in (["models", "list"], ["kb", "show", "--dataset", "trec6"],
                 ["samples", "--dataset", "trec6", "--class", "ABBR"]):
        assert main([*args, "--workspace", str(workspace)]) == 2
        assert "no workspace at" in capsys.readouterr().err
    assert not workspace.exists()


def test_eight_processes_registering_at_once_get_distinct_versions_and_artifacts(workspace):
    Workspace(workspace).db()
    results = run_processes(register_model, [(str(workspace), w) for w in range(8)])
    errors = [v for status, v in results if status == "error"]
    assert not errors, errors[0]
    assert sorted(v for _, v in results) == sorted(f"d-v{n}" for n in range(1, 9))
    reg = Registry(Workspace(workspace))
    versions = reg.list("d")
    assert [v.version for v in versions] == list(range(1, 9))
    assert len({v.artifact for v in versions}) == 8
    assert all(f"-v{v.version}" in v.artifact for v in versions)
    loaded = [reg.load(v.id) for v in versions]
    assert sorted(m["worker"] for m in loaded) == list(range(8))
    assert {v.created_by for v in versions} == {f"w{m['worker']}" for m in loaded}
    assert all(f"w{reg.load(v.id)['worker']}" == v.created_by for v in versions)  # each row has its own model
    assert sorted(p.name for p in (workspace / "models" / "d").iterdir()) == sorted(
        Path(v.artifact).name for v in versions)  # no temporary files left


def test_concurrent_promotes_leave_exactly_one_production_version(workspace):
    reg = Registry(Workspace(workspace))
    ids = [register(reg, n).id for n in range(4)]
    results = run_processes(promote_model, [(str(workspace), i) for i in ids])
    assert all(status == "ok" for status, _ in results), results
    assert sum(v.status == "production" for v in Registry(Workspace(workspace)).list("trec6")) == 1


def test_an_existing_artifact_file_is_never_overwritten(workspace):
    reg = Registry(Workspace(workspace))
    reg.ws.db()  # (model files without a database are a lost database: test_reliability_faults)
    folder = workspace / "models" / "trec6"
    folder.mkdir(parents=True)
    (folder / "trec6-v1.joblib").write_bytes(b"somebody else's file")
    v1 = register(reg, 1)
    assert (folder / "trec6-v1.joblib").read_bytes() == b"somebody else's file"
    assert Path(v1.artifact) != folder / "trec6-v1.joblib" and "trec6-v1" in Path(v1.artifact).name
    assert reg.load(v1.id) == {"weights": 1}


def test_parent_is_the_production_version_never_a_mere_candidate(workspace):
    reg = Registry(Workspace(workspace))
    v1 = register(reg, 1)
    v2 = register(reg, 2)
    assert v1.parent is None and v2.parent is None  # v1 is a candidate that was never in production
    reg.promote(v1.id)
    v3 = register(reg, 3)
    assert v3.parent == v1.id
    reg.promote(v3.id)
    assert register(reg, 4).parent == v3.id
    with pytest.raises(RegistryError, match="trec6-v2 was never in production"):
        reg.register({}, dataset="trec6", recipe={}, metrics_validation={}, metrics_test={}, parent=v2.id)
    with pytest.raises(RegistryError, match="no model version 'trec6-v9'"):
        reg.register({}, dataset="trec6", recipe={}, metrics_validation={}, metrics_test={}, parent="trec6-v9")
    trained_from_v1 = reg.register({}, dataset="trec6", recipe={}, metrics_validation={}, metrics_test={},
                                   parent=v1.id)  # archived now, but it was in production
    assert trained_from_v1.parent == v1.id
    assert [v.id for v in reg.list("trec6")][-1] == trained_from_v1.id == "trec6-v5"
