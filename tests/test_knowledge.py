"""The knowledge map keeps every observation of a cell; readers see one row per cell (means and a count)."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest
import sqlite_utils

from autogets.cli import main
from autogets.data import load_dataset
from autogets.ensemble import plan_phases
from autogets.knowledge import build, cells, observations, record_result
from autogets.workspace import MIGRATIONS, Workspace
from tests.conftest import tiny_rows
from tests.workers import search_result

CELL = {"dataset": "d", "target": "a", "objective": "cba", "seed": 42, "generator": "eda", "budget": 10,
        "classifier": "linear"}


def test_two_records_of_one_cell_are_two_observations(workspace):
    ws = Workspace(workspace)
    record_result(ws, search_result(gain=0.02), **CELL, test_gain=None, run_id="r1")
    record_result(ws, search_result(gain=0.04), **CELL, test_gain=0.01, run_id="r2")
    assert [r["run_id"] for r in ws.db().query("SELECT run_id FROM knowledge ORDER BY id")] == ["r1", "r2"]
    assert len(observations(ws, "d")) == 2
    (cell,) = cells(ws, "d").to_dict(orient="records")
    assert cell["n"] == 2
    assert cell["val_gain"] == pytest.approx(0.03)
    assert cell["test_gain"] == pytest.approx(0.01)  # the mean over the observations that have a test gain
    assert cell["effects"]["a"] == pytest.approx(0.25)  # CBA of a: 0.625 → 0.875


def test_v6_keeps_the_rows_of_an_older_workspace(workspace):
    workspace.mkdir()
    db = sqlite_utils.Database(sqlite3.connect(workspace / "autogets.db"))
    for migration in MIGRATIONS[:5]:
        migration(db)
    db.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO _meta VALUES ('schema_version', '5')")
    old = {"dataset": "d", "seed": 42, "class": "a", "strategy": "sw", "objective": "cba", "generator": "eda",
           "budget": 10, "val_gain": 0.05, "test_gain": None, "evaluations": 10, "fit_seconds": 1.0, "class_size": 2,
           "m0_recall": 0.5, "m0_cba": 0.6, "effects": '{"a": 0.1}', "run_id": "old", "created_at": "t"}
    db["knowledge"].insert(old)
    db["knowledge"].insert({**old, "class": "b", "run_id": "old-b"})
    db.close()
    ws = Workspace(workspace)
    rows = list(ws.db().query("SELECT * FROM knowledge ORDER BY id"))
    assert [(r["id"], r["class"], r["run_id"], r["val_gain"]) for r in rows] == [(1, "a", "old", 0.05),
                                                                                 (2, "b", "old-b", 0.05)]
    record_result(ws, search_result(gain=0.07), **CELL, test_gain=None, run_id="new")
    assert len(observations(ws, "d")) == 3
    # v9: rows from before the classifier column are a cell of an unknown classifier (never planned from)
    by_cell = cells(ws, "d").set_index(["class", "classifier"])
    assert by_cell.loc[("a", "unknown"), "n"] == 1 and by_cell.loc[("a", "linear"), "val_gain"] == pytest.approx(0.07)


def test_kb_show_when_no_cell_has_a_test_gain(workspace, capsys):
    ws = Workspace(workspace)
    record_result(ws, search_result(gain=0.02), **CELL, test_gain=None, run_id="r1")  # what `improve` records
    ws.close()
    assert main(["kb", "show", "--dataset", "d", "--workspace", str(workspace)]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if " sw " in line]
    assert "+0.0200" in row and "n/a" in row


def test_kb_show_one_row_per_cell_with_means_and_count(workspace, capsys):
    ws = Workspace(workspace)
    record_result(ws, search_result(gain=0.02), **CELL, test_gain=None, run_id="r1")
    record_result(ws, search_result(gain=0.04), **CELL, test_gain=None, run_id="r2")
    record_result(ws, search_result(gain=0.01, strategy="ga"), **CELL, test_gain=0.005, run_id="r3")
    ws.close()
    assert main(["kb", "show", "--dataset", "d", "--workspace", str(workspace)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (sw,) = [line for line in lines if " sw " in line]
    assert "n/a" in sw and "+0.0300" in sw and " 2 " in sw and "nan" not in sw
    (ga,) = [line for line in lines if " ga " in line]
    assert "+0.0050" in ga and " 1 " in ga
    assert main(["kb", "show", "--dataset", "d", "--json", "--workspace", str(workspace)]) == 0
    shown = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)}
    assert shown["sw"]["n"] == 2 and shown["sw"]["test_gain"] is None and shown["ga"]["test_gain"] == 0.005


def test_plan_uses_the_mean_of_a_cells_observations(workspace):
    ws = Workspace(workspace)
    record_result(ws, search_result(gain=0.05, strategy="sw"), **CELL, test_gain=None, run_id="r1")
    record_result(ws, search_result(gain=-0.03, strategy="sw"), **CELL, test_gain=None, run_id="r2")
    record_result(ws, search_result(gain=0.02, strategy="ga"), **CELL, test_gain=None, run_id="r3")
    phases, source = plan_phases("a", "cba", train_counts={"a": 2, "b": 2, "c": 2},
                                 val_recall={"a": 0.5, "b": 1.0, "c": 1.0}, knowledge=cells(ws, "d"))
    assert source == "knowledge map"
    assert phases[0].strategy == "ga"  # sw's best single observation (+0.05) averages to +0.01 over two


def test_kb_build_skips_a_cell_with_several_observations(workspace, write_csv):
    ws = Workspace(workspace)
    for run in ("r1", "r2"):
        record_result(ws, search_result(gain=0.02), **CELL, test_gain=None, run_id=run)
    rows = tiny_rows()
    data = load_dataset(path=write_csv("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), name="d.csv"))
    seen = []
    frame = build(ws, data, budget=10, generator=SimpleNamespace(name="eda"), classes=["a"], strategies=["sw"],
                  objectives=["cba"], seed=42, executor="serial", classifier="linear",
                  on_cell=lambda cell, skipped: seen.append(skipped))
    assert seen == [True] and len(frame) == 1 and frame["n"].item() == 2


def test_a_plan_reads_only_cells_of_its_split_seed_classifier_and_generator(workspace):
    """Issue 23 item 2: seed 43's validation rows are partly seed 42's test rows; another classifier's or
    generator's cells say nothing about this run."""
    from autogets.knowledge import plan_cells

    ws = Workspace(workspace)
    for other in ({"seed": 43}, {"classifier": "minilm"}, {"generator": "embedded"}):
        record_result(ws, search_result(gain=0.05, strategy="sw"), **{**CELL, **other}, test_gain=None, run_id="x")
    frame, which = plan_cells(ws, "d", seed=42, classifier="linear", generator="eda")
    assert frame is None and which == "split seed 42, classifier linear, generator eda"
    record_result(ws, search_result(gain=0.01, strategy="ga"), **CELL, test_gain=None, run_id="mine")
    frame, _ = plan_cells(ws, "d", seed=42, classifier="linear", generator="eda")
    assert list(frame["strategy"]) == ["ga"] and list(frame["run_id"]) == ["mine"]


def test_improve_on_seed_42_does_not_plan_from_a_seed_43_map(trec6_slice, workspace, capsys):
    import json as _json

    from autogets.data import load_dataset as _load

    name = _load(None, path=trec6_slice).name
    ws = Workspace(workspace)
    ws.db()["knowledge"].insert({"dataset": name, "seed": 43, "class": "ABBR", "strategy": "sw", "objective": "cba",
                                 "generator": "eda", "budget": 2, "val_gain": 0.05, "test_gain": None,
                                 "evaluations": 2, "fit_seconds": 0.1, "class_size": 5, "m0_recall": 0.5,
                                 "m0_cba": 0.6, "effects": '{"ABBR": 0.05}', "run_id": "x", "created_at": "t",
                                 "classifier": "linear"})
    ws.close()
    args = ["improve", "--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda", "--n", "1", "--budget",
            "2", "--executor", "serial", "--workspace", str(workspace), "--classifier", "linear", "--json"]
    assert main([*args, "--seed", "42"]) == 0
    report = _json.loads(capsys.readouterr().out)
    assert report["plan_source"].startswith("default rules (no knowledge-map cell of split seed 42, classifier "
                                            "linear, generator eda")
