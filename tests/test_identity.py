"""A data set's identity is its name plus a content fingerprint (issue 23 item 1, Must show 2): two files named
``tickets.csv`` with different texts are two data sets (two lineages, two production versions, their own reviews,
knowledge map and run claim), the same texts in two folders are one; a model refuses to serve a data set whose
classes differ from its own; workspaces of schema version 10 keep working."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
import sqlite_utils

from autogets.cli import main
from autogets.data import load_dataset
from tests.cli_checks import one_line_error
from tests.conftest import tiny_rows
from tests.workers import search_result

ROOT = Path(__file__).resolve().parents[1]
PROBE = "What does NASA stand for ?"


def cli(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m autogets ARGS` in a new process (the suite's pinned classifier inherited)."""
    return subprocess.run([sys.executable, "-m", "autogets", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def improve(data: Path, ws: Path, *more: str, cls: str = "ABBR") -> subprocess.CompletedProcess:
    """A fast `improve --promote` that always registers a model (EDA texts, the paper's acceptance rule)."""
    return cli("improve", "--data", data, "--class", cls, "--generator", "eda", "--budget", "6", "--executor",
               "serial", "--workspace", ws, "--fitness", "validation", "--accept", "no_drop", "--promote", "--json",
               *more)


def write_rows(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame[["text", "label"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trec6_frame() -> pd.DataFrame:
    return load_dataset("trec6").frame


def test_same_content_in_two_folders_is_one_identity_and_other_content_another(trec6_frame, tmp_path):
    rows = trec6_frame.groupby("label").head(20)
    a = load_dataset(path=write_rows(tmp_path / "a" / "tickets.csv", rows))
    moved = rows.sample(frac=1.0, random_state=3).copy()                    # another order, spaces the loader drops
    moved["text"] = "  " + moved["text"] + " "
    b = load_dataset(path=write_rows(tmp_path / "b" / "tickets.csv", moved))
    other = load_dataset(path=write_rows(tmp_path / "c" / "tickets.csv", trec6_frame.groupby("label").nth(
        list(range(20, 40)))))
    relabelled = rows.copy()
    relabelled.loc[relabelled.index[0], "label"] = "HUM" if relabelled["label"].iloc[0] != "HUM" else "LOC"
    flipped = load_dataset(path=write_rows(tmp_path / "d" / "tickets.csv", relabelled))
    assert a.name == b.name == other.name == flipped.name == "tickets"        # the name a person reads stays
    assert a.identity == b.identity and a.fingerprint == b.fingerprint
    assert len({a.fingerprint, other.fingerprint, flipped.fingerprint}) == 3  # texts and labels both count
    assert 8 <= len(a.fingerprint) <= 12 and int(a.fingerprint, 16) >= 0
    assert a.identity.key == f"tickets@{a.fingerprint}"


def test_one_run_per_data_set_is_per_content(trec6_frame, tmp_path):
    """The claim that allows one improve run per data set at a time: another content of the same name is another
    data set (a run on it starts); the same content from another folder is the same one (refused)."""
    from autogets.errors import RunConflict
    from autogets.leases import release_run
    from autogets.steps import RunSpec, create_run
    from autogets.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    first = write_rows(tmp_path / "a" / "tickets.csv", trec6_frame.groupby("label").head(20))
    same = write_rows(tmp_path / "copy" / "tickets.csv", trec6_frame.groupby("label").head(20))
    other = write_rows(tmp_path / "b" / "tickets.csv", trec6_frame.groupby("label").nth(list(range(20, 40))))
    runs = []
    try:
        runs.append(create_run(ws, RunSpec(data_path=str(first), target="ABBR", generator="eda")))
        runs.append(create_run(ws, RunSpec(data_path=str(other), target="ABBR", generator="eda")))
        with pytest.raises(RunConflict, match=f"tickets is being improved by run {runs[0]}"):
            create_run(ws, RunSpec(data_path=str(same), target="ABBR", generator="eda"))
    finally:
        for run_id in runs:
            release_run(ws, run_id)
        ws.close()


def test_rejected_texts_and_knowledge_map_cells_of_one_content_stay_with_it(workspace):
    from autogets.generators.base import Synthetic
    from autogets.identity import DatasetId
    from autogets.knowledge import plan_cells, record_result
    from autogets.review import may_train, sample_key, text_key
    from autogets.workspace import Workspace

    ws = Workspace(workspace)
    mine, theirs = DatasetId("tickets", "a" * 12), DatasetId("tickets", "b" * 12)
    s = Synthetic(source_id=1, sample_index=0, text="refund my card please", label="a", generator="eda",
                  model="eda", prompt_version="1")
    ws.db()["reviews"].insert({"run_id": "r1", **mine.columns(), "key": sample_key(s, "source"),
                               "text_key": text_key(s.text), "decision": "rejected", "actor": "u", "at": "t"})
    assert may_train(ws.db(), mine, [s], lambda _: "source") == ([], 1)
    assert may_train(ws.db(), theirs, [s], lambda _: "source") == ([s], 0)
    record_result(ws, search_result(gain=0.02), dataset=mine, target="a", objective="cba", seed=42, generator="eda",
                  budget=10, test_gain=None, run_id="r1", classifier="linear")
    assert plan_cells(ws, mine, seed=42, classifier="linear", generator="eda")[0] is not None
    assert plan_cells(ws, theirs, seed=42, classifier="linear", generator="eda")[0] is None
    ws.close()


def test_two_tickets_files_keep_two_registries_in_one_workspace(trec6_frame, tmp_path):
    """Must show 2: `improve` on two different files both named tickets.csv keeps two lineages and two production
    versions; the CLI says in one line that the workspace already holds another content of that name; a bare name
    that names both is refused in one line."""
    a = write_rows(tmp_path / "a" / "tickets.csv", trec6_frame.groupby("label").head(50))
    b = write_rows(tmp_path / "b" / "tickets.csv", trec6_frame.groupby("label").nth(list(range(50, 100))))
    ws = tmp_path / "ws"

    first = improve(a, ws)
    assert first.returncode == 0, first.stderr
    assert "already holds" not in first.stderr
    second = improve(b, ws)
    assert second.returncode == 0, second.stderr
    third = improve(a, ws, "--seed", "7")  # the first content again: its lineage, not the other's
    assert third.returncode == 0, third.stderr
    versions = {v["id"]: v for v in json.loads(cli("models", "list", "--json", "--workspace", ws).stdout)}
    assert {k: (v["parent"], v["status"]) for k, v in versions.items()} == {
        "tickets-v1": (None, "archived"), "tickets-v2": (None, "production"),
        "tickets-v3": ("tickets-v1", "production")}

    fp_a, fp_b = load_dataset(path=a).fingerprint, load_dataset(path=b).fingerprint
    (note,) = [line for line in second.stderr.splitlines() if "already holds" in line]
    assert note.startswith("autogets: note: ") and f"tickets@{fp_a}" in note and f"tickets@{fp_b}" in note
    assert str(a) in note and "Traceback" not in second.stderr
    assert {k: (v["fingerprint"], v["parent"], v["status"]) for k, v in versions.items()} == {
        "tickets-v1": (fp_a, None, "archived"),
        "tickets-v2": (fp_b, None, "production"),           # its own lineage: not a child of tickets-v1
        "tickets-v3": (fp_a, "tickets-v1", "production"),   # both contents have a production version
    }
    table = cli("models", "list", "--workspace", ws, "--dataset", "tickets").stdout
    assert f"tickets@{fp_a}" in table and f"tickets@{fp_b}" in table

    one_line_error(cli("predict", "--dataset", "tickets", "--text", PROBE, "--workspace", ws),
                   "2 data sets named 'tickets'", f"tickets@{fp_a}", f"tickets@{fp_b}")
    for fp, model in ((fp_a, "tickets-v3"), (fp_b, "tickets-v2")):
        served = cli("predict", "--dataset", f"tickets@{fp}", "--text", PROBE, "--workspace", ws, "--json")
        assert served.returncode == 0, served.stderr
        assert json.loads(served.stdout)["model_id"] == model
    rolled = cli("models", "rollback", "--dataset", f"tickets@{fp_a}", "--workspace", ws)
    assert rolled.returncode == 0 and "tickets-v1 is in production" in rolled.stdout, rolled.stderr
    statuses = {v["id"]: v["status"] for v in json.loads(cli("models", "list", "--json", "--workspace", ws).stdout)}
    assert statuses == {"tickets-v1": "production", "tickets-v2": "production", "tickets-v3": "archived"}


def test_predict_refuses_a_model_whose_classes_differ_from_the_data_sets(trec6_frame, tmp_path):
    """A user's ./trec6.csv with other classes than the bundled trec6: `predict --dataset trec6` does not serve its
    model, and neither does `--model` for the bundled data set: one line, exit 2, no traceback."""
    mine = write_rows(tmp_path / "mine" / "trec6.csv",
                      trec6_frame[trec6_frame["label"].isin(["ABBR", "HUM", "LOC"])].groupby("label").head(40))
    ws = tmp_path / "ws"
    made = improve(mine, ws)
    assert made.returncode == 0, made.stderr

    one_line_error(cli("predict", "--dataset", "trec6", "--model", "trec6-v1", "--text", PROBE, "--workspace", ws),
                   "model trec6-v1 cannot serve trec6@", "classes differ", "DESC")
    refused = cli("predict", "--dataset", "trec6", "--text", PROBE, "--workspace", ws)
    fp = load_dataset(path=mine).fingerprint
    one_line_error(refused, "no production model for 'trec6@", f"trec6@{fp}")
    served = cli("predict", "--dataset", f"trec6@{fp}", "--text", PROBE, "--workspace", ws, "--json")
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["classes"] == ["ABBR", "HUM", "LOC"]


def v10_workspace(root: Path, artifact_classes: tuple[str, ...]) -> Path:
    """A workspace of schema version 10: an improve run on the bundled trec6 with its version (archived), review and
    knowledge row; an improve run on a file named trec6.csv with its version (production, an artifact of
    ``artifact_classes``); a search run on trec6 with its knowledge row."""
    from autogets.classifiers import make_classifier
    from autogets.workspace import MIGRATIONS

    root.mkdir(parents=True)
    db = sqlite_utils.Database(sqlite3.connect(root / "autogets.db"))
    for migration in MIGRATIONS[:10]:
        migration(db)
    db.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO _meta VALUES ('schema_version', '10')")
    spec = {"dataset": None, "data_path": None, "text_col": "text", "label_col": "label", "id_col": None,
            "min_class_size": None, "target": "ABBR", "generator": "eda", "seed": 42}
    for run_id, kind, params in (("r-bundled", "improve", {**spec, "dataset": "trec6"}),
                                 ("r-file", "improve", {**spec, "data_path": "/gone/trec6.csv"}),
                                 ("r-search", "search", {"class": "ABBR", "seed": 42})):
        db["runs"].insert({"id": run_id, "kind": kind, "dataset": "trec6", "status": "done", "created_at": "t",
                           "params": json.dumps(params), "result": "{}", "report_dir": f"reports/{run_id}"})
    (root / "models" / "trec6").mkdir(parents=True)
    texts, labels = zip(*tiny_rows(classes=artifact_classes), strict=True)
    joblib.dump(make_classifier("linear").fit(list(texts), list(labels)), root / "models/trec6/trec6-v2.joblib")
    for version, run_id, status in ((1, "r-bundled", "archived"), (2, "r-file", "production")):
        db["models"].insert({"id": f"trec6-v{version}", "dataset": "trec6", "version": version, "parent": None,
                             "status": status, "recipe": "{}", "metrics_validation": "{}", "metrics_test": "{}",
                             "summary": json.dumps({"run_id": run_id}), "artifact": f"models/trec6/trec6-v{version}"
                             ".joblib", "created_at": "t", "created_by": "cli"})
        db["model_events"].insert({"model_id": f"trec6-v{version}", "dataset": "trec6", "action": "promote",
                                   "actor": "cli", "at": "t", "previous": None})
        db["reviews"].insert({"run_id": run_id, "dataset": "trec6", "key": f"k{version}", "text_key": f"t{version}",
                              "decision": "rejected", "actor": "cli", "at": "t"})
    for run_id in ("r-bundled", "r-search"):
        db["knowledge"].insert({"dataset": "trec6", "seed": 42, "class": "ABBR", "strategy": "sw", "objective": "cba",
                                "generator": "eda", "budget": 10, "val_gain": 0.01, "effects": "{}",
                                "run_id": run_id, "created_at": "t", "classifier": "linear"})
    db.close()
    return root


def test_migration_11_upgrades_a_v10_workspace(tmp_path, capsys):
    from autogets.workspace import SCHEMA_VERSION, Workspace

    assert SCHEMA_VERSION >= 11
    from autogets.data import bundled_identity
    from autogets.identity import DatasetId, known
    from autogets.registry import Registry

    root = v10_workspace(tmp_path / "ws", artifact_classes=("a", "b", "c"))
    ws = Workspace(root)
    db = ws.db()
    bundled = bundled_identity("trec6").fingerprint
    fps = {(table, key): fp for table, column in (("runs", "id"), ("reviews", "run_id"), ("knowledge", "run_id"),
                                                  ("models", "id"), ("model_events", "model_id"))
           for key, fp in db.execute(f'SELECT "{column}", dataset_fp FROM "{table}"').fetchall()}
    assert fps == {("runs", "r-bundled"): bundled, ("runs", "r-file"): None, ("runs", "r-search"): None,
                   ("reviews", "r-bundled"): bundled, ("reviews", "r-file"): None,
                   ("knowledge", "r-bundled"): bundled, ("knowledge", "r-search"): None,
                   ("models", "trec6-v1"): bundled, ("models", "trec6-v2"): None,
                   ("model_events", "trec6-v1"): bundled, ("model_events", "trec6-v2"): None}
    (seen,) = known(db, "trec6")
    assert seen.identity == bundled_identity("trec6") and "ABBR" in seen.classes and seen.describe().endswith(
        "(bundled)")
    # legacy rows (content unknown) keep matching by name: the file's version is still what trec6 has in production
    registry = Registry(ws)
    assert registry.production("trec6").id == "trec6-v2"
    assert registry.production(bundled_identity("trec6")).id == "trec6-v2"
    assert registry.production(DatasetId("trec6", "0" * 12)).id == "trec6-v2"
    assert [v.id for v in registry.list(DatasetId("trec6", "0" * 12))] == ["trec6-v2"]
    ws.close()
    # ... and the class check keeps predict from serving it for the bundled trec6, whose classes differ
    code = main(["predict", "--dataset", "trec6", "--text", PROBE, "--workspace", str(root)])
    one_line_error((code, capsys.readouterr().err), "model trec6-v2 cannot serve trec6@", "classes differ")
    assert sqlite3.connect(root / "autogets.db").execute(
        "SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
