from __future__ import annotations

import json

import pytest

from autogets.cli import main
from autogets.workspace import Workspace


def test_diagnose_trec6_prints_table_flags_abbr_and_writes_report(workspace, capsys):
    assert main(["diagnose", "--dataset", "trec6", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    for cls in ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"):
        assert cls in out
    assert "M0 test accuracy:" in out
    assert "Weak classes" in out and "ABBR" in out.split("Weak classes")[1]
    reports = list((workspace / "reports").glob("diagnose-trec6-*/report.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["weak_classes"][0] == "ABBR"
    assert 0.8 < report["test"]["overall"]["accuracy"] < 0.95
    (run,) = Workspace(workspace).db()["runs"].rows
    assert run["kind"] == "diagnose" and run["created_at"] <= run["finished_at"]
    assert run["report_dir"] == str(reports[0].parent)
    png = reports[0].parent / "per_class_cba.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagnose_json_output(workspace, capsys):
    assert main(["diagnose", "--dataset", "trec6", "--workspace", str(workspace), "--json", "--seed", "1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["seed"] == 1
    assert set(payload["validation"]["per_class"]) == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


def test_datasets_lists_bundled(capsys):
    assert main(["datasets", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert names == {"trec6", "sms_spam", "banking_dev"}  # not banking_dev_test: an external test only


def _bad_inputs(tmp_path):
    def f(name, content):
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return ["--data", str(p)]

    rows = "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(20))
    return {
        "missing file": (["--data", str(tmp_path / "missing.csv")], "no such file"),
        "unknown bundled": (["--dataset", "nope"], "unknown bundled data set"),
        "missing text column": (f("c.csv", "body,label\n" + rows) , "no column 'text'"),
        "missing label column": (f("d.csv", "text,label\n" + rows) + ["--label-col", "intent"], "no column 'intent'"),
        "empty file": (f("e.csv", ""), "file is empty"),
        "small class": (f("s.csv", "text,label\n" + rows + "rare 1,r\nrare 2,r\n"), "class 'r' has 2 examples"),
        "empty texts": (f("t.csv", "text,label\n" + rows + '"  ",a\n'), "empty text"),
        "non utf8": (f("u.csv", b"text,label\n" + rows.encode() + b"caf\xe9,a\n"), "not valid UTF-8"),
        "nan label": (f("n.csv", "text,label\n" + rows + "orphan,\n"), "have no label"),
        "no data option": ([], "--dataset NAME"),
    }


@pytest.mark.parametrize("case", ["missing file", "unknown bundled", "missing text column", "missing label column",
                                  "empty file", "small class", "empty texts", "non utf8", "nan label",
                                  "no data option"])
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path, workspace, capsys):
    args, message = _bad_inputs(tmp_path)[case]
    code = main(["diagnose", *args, "--workspace", str(workspace)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogets: error:") and message in lines[0]
    assert not workspace.exists()


def test_usage_error_exit_2(capsys):
    assert main(["diagnose", "--no-such-flag"]) == 2
    assert "autogets: error:" in capsys.readouterr().err
