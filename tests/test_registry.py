from __future__ import annotations

import os

import pytest

from autogets.cli import main
from autogets.errors import RegistryError
from autogets.registry import Registry
from autogets.workspace import Workspace


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
