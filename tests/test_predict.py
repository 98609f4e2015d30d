"""`autogets predict`, `autogets.load_model` and `autogets models export` on a real improved model."""

from __future__ import annotations

import json
import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import autogets
from autogets.classifiers import TfidfLinearClassifier
from autogets.cli import main
from autogets.errors import RegistryError
from autogets.registry import Registry
from autogets.workspace import Workspace

PROBES = ["What does NASA stand for ?", "Who wrote Hamlet ?", "How far is the Moon from Earth ?"]


@pytest.fixture(scope="module")
def improved(trec6_slice, tmp_path_factory):
    """A workspace whose trec6_slice production model (v1) came from a real `improve` run; returns (ws, report)."""
    ws = tmp_path_factory.mktemp("predict") / "ws"
    args = ["improve", "--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda", "--budget", "6",
            "--executor", "serial", "--promote", "--workspace", str(ws), "--json",
            "--fitness", "validation", "--accept", "no_drop"]  # the paper's rule: a model is always registered
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return ws, json.loads(buffer.getvalue()[buffer.getvalue().index("{"):])


def test_load_model_gives_the_production_version_as_a_sklearn_classifier(improved):
    ws, report = improved
    model = autogets.load_model("trec6_slice", workspace=ws)
    assert isinstance(model, TfidfLinearClassifier)
    assert list(model.classes_) == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    labels = model.predict(PROBES)
    assert labels.shape == (3,) and set(labels) <= set(model.classes_)
    scores = model.decision_function(PROBES)
    assert np.array_equal(model.classes_[scores.argmax(axis=1)], labels)
    assert np.allclose(model.predict_proba(PROBES).sum(axis=1), 1)
    assert clone(model).get_params() == model.get_params()
    for version in (1, "1", report["model_id"]):
        assert np.array_equal(autogets.load_model("trec6_slice", version, ws).predict(PROBES), labels)
    with pytest.raises(RegistryError, match="no model version 'trec6_slice-v9'"):
        autogets.load_model("trec6_slice", 9, ws)
    with pytest.raises(RegistryError, match="belongs to data set 'trec6_slice', not 'trec6'"):
        autogets.load_model("trec6", "trec6_slice-v1", ws)


def test_predict_text_prints_label_scores_and_model_id(improved, capsys):
    ws, report = improved
    assert main(["predict", "--dataset", "trec6_slice", "--text", PROBES[0], "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "trec6_slice-v1 (production)" in out and "decision_function" in out
    for cls in ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"):
        assert cls in out
    assert main(["predict", "--model", "trec6_slice-v1", "--text", PROBES[0], "--text", PROBES[1],
                 "--workspace", str(ws), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = autogets.load_model("trec6_slice", workspace=ws).predict(PROBES[:2]).tolist()
    assert [p["label"] for p in payload["predictions"]] == expected
    assert payload["model_id"] == report["model_id"] and set(payload["predictions"][0]["scores"]) == set(
        payload["classes"])


@pytest.mark.parametrize(("source", "target"), [("in.csv", "out.csv"), ("in.jsonl", "out.parquet"),
                                                ("in.parquet", "out.jsonl")])
def test_predict_file_round_trip_in_each_format(source, target, improved, tmp_path, capsys):
    ws, _ = improved
    frame = pd.DataFrame({"id": [7, 8, 9], "question": PROBES})
    src, dst = tmp_path / source, tmp_path / target
    {"csv": lambda: frame.to_csv(src, index=False), "jsonl": lambda: frame.to_json(src, orient="records", lines=True),
     "parquet": lambda: frame.to_parquet(src)}[src.suffix[1:]]()
    assert main(["predict", "--dataset", "trec6_slice", "--data", str(src), "--text-col", "question", "--out",
                 str(dst), "--workspace", str(ws)]) == 0
    assert "Wrote 3 predictions" in capsys.readouterr().out
    got = pd.read_parquet(dst) if dst.suffix == ".parquet" else (
        pd.read_json(dst, lines=True) if dst.suffix == ".jsonl" else pd.read_csv(dst))
    assert list(got.columns[:2]) == ["id", "question"] and list(got["id"]) == [7, 8, 9]
    model = autogets.load_model("trec6_slice", workspace=ws)
    assert list(got["predicted_label"]) == model.predict(PROBES).tolist()
    assert np.allclose(got[[f"score_{c}" for c in model.classes_]].to_numpy(), model.decision_function(PROBES))
    assert set(got["model_id"]) == {"trec6_slice-v1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source, target])  # no temporary files left


@pytest.mark.parametrize(("args", "message"), [
    (["--text", "x", "--data", "{src}", "--out", "{dst}"], "not both"),
    ([], "give texts with --text, or a file with --data"),
    (["--data", "{src}"], "--data needs --out"),
    (["--text", "x", "--out", "{dst}"], "--out goes with --data"),
    (["--data", "{src}", "--out", "{tmp}/predictions.xlsx"], "unknown output format '.xlsx'"),
    (["--data", "{src}", "--out", "{tmp}/missing/out.csv"], "no such folder"),
    (["--data", "{src}", "--out", "{dst}", "--text-col", "body"], "no column 'body'"),
    (["--data", "{empty}", "--out", "{dst}"], "1 rows have an empty text in 'text' (data rows 2)"),
    (["--data", "{mixed}", "--out", "{tmp}/out.parquet"], "cannot write"),
])
def test_bad_input_is_one_line_and_leaves_the_output_untouched(args, message, improved, tmp_path, capsys):
    ws, _ = improved
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"text": PROBES}).to_csv(src, index=False)
    (tmp_path / "empty.csv").write_text("text\nWhat is it ?\n\"  \"\n")
    (tmp_path / "mixed.jsonl").write_text('{"text": "a b ?", "x": 1}\n{"text": "c d ?", "x": "two"}\n')
    dst.write_text("old\n")
    (tmp_path / "out.parquet").write_bytes(b"old")
    paths = {"src": src, "dst": dst, "tmp": tmp_path, "empty": tmp_path / "empty.csv",
             "mixed": tmp_path / "mixed.jsonl"}
    argv = [a.format(**paths) for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["predict", "--dataset", "trec6_slice", *argv, "--workspace", str(ws)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert dst.read_text() == "old\n" and (tmp_path / "out.parquet").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_no_production_model_says_how_to_promote(improved, tmp_path, capsys):
    ws, _ = improved
    other = Workspace(tmp_path / "ws2")
    model = Registry(Workspace(ws)).load("trec6_slice-v1")
    Registry(other).register(model, dataset="trec6_slice", recipe={}, metrics_validation={}, metrics_test={})
    assert main(["predict", "--dataset", "trec6_slice", "--text", "x", "--workspace", str(other.root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["autogets: error: no production model for 'trec6_slice'; promote one with "
                   "`autogets models promote trec6_slice-v1`"]
    assert main(["predict", "--dataset", "nothing", "--text", "x", "--workspace", str(other.root)]) == 2
    assert "autogets improve --dataset nothing --promote" in capsys.readouterr().err
    assert main(["predict", "--dataset", "trec6_slice", "--text", "x", "--workspace", str(tmp_path / "none")]) == 2
    assert "no workspace" in capsys.readouterr().err


def test_export_writes_a_self_contained_artifact_and_a_model_card(improved, tmp_path, capsys):
    ws, report = improved
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    out = tmp_path / "export" / "model.joblib"
    out.parent.mkdir()
    assert main(["models", "export", "trec6_slice-v1", "--out", str(out), "--workspace", str(copy)]) == 0
    assert "Exported trec6_slice-v1" in capsys.readouterr().out
    card = json.loads((tmp_path / "export" / "model.card.json").read_text())
    assert card["model_id"] == "trec6_slice-v1" and card["dataset"] == "trec6_slice"
    assert card["autogets_version"] == autogets.__version__ and card["created_by"] == "cli" and card["created_at"]
    assert card["classes"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert card["classifier"]["type"] == "autogets.classifiers.TfidfLinearClassifier"
    recipe = card["recipe"]  # refitted on train + validation (192 + 48 of the 300-row slice)
    assert recipe["real_train_examples"] == 240 and recipe["synthetic_texts"] == report["decisions"][0][
        "added_texts"] + sum(d["added_texts"] for d in report["decisions"][1:])
    assert all(g["generator"] == "eda" for g in recipe["generators"])
    gain = card["metrics"]["class_cba_gain"]
    assert gain["class"] == "ABBR" and gain["test"] == pytest.approx(report["test"]["class_cba_gain"])
    val = report["held_out"]  # fitness validation: models fitted on train (+ synthetic), scored on validation
    assert val["kind"] == "validation" and "validation" in card["metrics"]
    assert gain["validation"] == pytest.approx(val["final"]["per_class"]["ABBR"]["cba"]
                                               - val["m0"]["per_class"]["ABBR"]["cba"])
    # M0's held-out numbers are the search's own baseline (M0 fitted on train), not the refitted model's score on
    # the validation rows it trained on (issue 23 item 4)
    assert val["m0"]["per_class"]["ABBR"]["cba"] == pytest.approx(report["decisions"][0]["goal_before"])
    assert set(card["metrics"]["test"]) == {"overall", "per_class"}
    assert {"python", "scikit-learn", "numpy", "autogets", "joblib"} <= set(card["requires"])
    import hashlib

    assert card["artifact"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    expected = autogets.load_model("trec6_slice", workspace=copy).predict(PROBES)
    shutil.rmtree(copy)  # self-contained: no workspace needed any more
    assert np.array_equal(joblib.load(out).predict(PROBES), expected)


def test_export_errors_are_one_line(improved, tmp_path, capsys):
    ws, _ = improved
    assert main(["models", "export", "trec6_slice-v7", "--out", str(tmp_path / "m.joblib"), "--workspace",
                 str(ws)]) == 2
    assert "no model version 'trec6_slice-v7'" in capsys.readouterr().err
    assert main(["models", "export", "trec6_slice-v1", "--out", str(tmp_path / "no" / "m.joblib"), "--workspace",
                 str(ws)]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_leaves_no_half_written_file(tmp_path):
    from autogets.serving import write_atomic

    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def fails_halfway(path: str) -> None:
        with open(path, "w") as fh:
            fh.write("text,predicted_label\nhalf")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, fails_halfway)
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    write_atomic(target, lambda path: open(path, "w").write("new\n"))
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_corrupt_artifact_is_a_one_line_error(improved, tmp_path, capsys):
    ws, _ = improved
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    reg = Registry(Workspace(copy))
    record = reg.get("trec6_slice-v1")
    artifact = copy / "models" / "trec6_slice" / "trec6_slice-v1.joblib"
    assert artifact.exists()
    with reg.ws.db().conn:
        reg.ws.db().execute("UPDATE models SET artifact = ? WHERE id = ?", [str(artifact), record.id])
    artifact.write_bytes(artifact.read_bytes()[:100])
    assert main(["predict", "--dataset", "trec6_slice", "--text", "x", "--workspace", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot load the artifact of trec6_slice-v1" in err[0]
