"""Texts that look like Rich markup or break Markdown, shown by the real CLI: printed as they are, never a crash."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autogets.cli import main
from autogets.data import bundled_path
from autogets.workspace import Workspace
from tests.test_textfmt import HOSTILE, MARKDOWN, inline_texts

pytestmark = pytest.mark.reliability  # issue 16: untrusted text on the terminal


def hostile_cache(workspace) -> None:
    """Generate (EDA) for ABBR once, then make every cached text hostile."""
    assert main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "1", "--json",
                 "--workspace", str(workspace)]) == 0
    ws = Workspace(workspace)
    db = ws.db()
    keys = [(r["source_hash"], r["sample_index"])
            for r in db.query("SELECT source_hash, sample_index FROM generations")]
    with db.conn:
        for i, (h, k) in enumerate(keys):
            text = f"[bold]x[/] [/] {HOSTILE[i % len(HOSTILE)]} [red]word{i}[/red] [link=https://e.com]z[/link]"
            db.execute("UPDATE generations SET raw = ?, text = ? WHERE source_hash = ? AND sample_index = ?",
                       [text, text, h, k])
    ws.close()


def test_generate_and_samples_print_markup_like_texts_as_they_are(workspace, capsys):
    hostile_cache(workspace)
    capsys.readouterr()
    assert main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "1",
                 "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "[bold]x[/] [/]" in out and "[red]word" in out and "from cache" in out
    assert main(["samples", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--limit", "30",
                 "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert "[bold]x[/]" in out and "[link=https://e.com]z[/link]" in out.replace("\n", "")


def test_improve_with_a_markup_like_class_name(workspace, tmp_path, capsys):
    frame = pd.read_csv(bundled_path("trec6"))
    frame["label"] = frame["label"].replace({"ABBR": "AB[/]BR|*x*"})
    data = tmp_path / "trec6.csv"
    frame.to_csv(data, index=False)
    code = main(["improve", "--data", str(data), "--class", "AB[/]BR|*x*", "--generator", "eda", "--n", "2",
                 "--budget", "4", "--executor", "serial", "--workspace", str(workspace)])
    out = capsys.readouterr().out
    assert code == 0
    assert "GA on AB[/]BR|*x* (cba)" in out  # the plan and decision lines
    (folder,) = (workspace / "reports").glob("improve-trec6-*")
    tokens = MARKDOWN.parse((folder / "report.md").read_text())
    texts = inline_texts(t for t in tokens if t.type == "inline" and t.children
                         and all(c.type == "text" for c in t.children))
    assert "AB[/]BR|*x*" in texts  # its cell in the per-class table, whole
    assert json.loads((folder / "report.json").read_text())["class"] == "AB[/]BR|*x*"


HOSTILE_CLASS = "AB\x1b[31mBR\u202e"
HOSTILE_NAME = "d\x1b]0;pwned\x07\u2066x"


def test_control_sequences_in_data_reach_no_terminal_report_or_folder_name(trec6_slice, tmp_path, capsys):
    """Issue 23 item 19: ANSI/OSC sequences and bidi overrides in a data file's name, a class label and texts,
    through diagnose, improve (its report.md and folder), samples, predict --text and chat --list."""
    from tests.test_textfmt import CONTROL, UNSAFE

    frame = pd.read_csv(trec6_slice)
    frame["label"] = frame["label"].replace({"ABBR": HOSTILE_CLASS})
    abbr = frame.index[frame["label"] == HOSTILE_CLASS]
    for k, i in enumerate(abbr[:len(CONTROL)]):
        frame.loc[i, "text"] = f"{frame.loc[i, 'text']} {CONTROL[k]}"
    data = tmp_path / f"{HOSTILE_NAME}.jsonl"   # JSON lines: a NUL or a lone CR survives the file as it is
    frame.to_json(data, orient="records", lines=True)
    ws = str(tmp_path / "ws")
    outputs = []

    def run(*args: str) -> None:
        assert main([*args, "--workspace", ws]) == 0
        captured = capsys.readouterr()
        outputs.append((args[0], captured.out + captured.err))

    run("diagnose", "--data", str(data))
    run("improve", "--data", str(data), "--class", HOSTILE_CLASS, "--generator", "eda", "--n", "1", "--budget", "4",
        "--executor", "serial", "--promote", "--fitness", "validation", "--accept", "no_drop")
    run("samples", "--data", str(data), "--class", HOSTILE_CLASS, "--generator", "eda", "--limit", "100")
    run("predict", "--dataset", HOSTILE_NAME, "--text", f"What does {CONTROL[0]} {CONTROL[4]} stand for?")
    run("chat", f"status {CONTROL[1]} {CONTROL[4]}")
    run("chat", "--list")
    run("models", "list")
    run("runs", "list")
    for command, printed in outputs:
        assert not UNSAFE.search(printed), (command, repr(UNSAFE.findall(printed)))
    assert "␛" in dict(outputs)["samples"] and "␛" in dict(outputs)["predict"]
    folders = [p.name for p in (tmp_path / "ws" / "reports").iterdir()]
    assert len(folders) == 2 and not any(UNSAFE.search(f) for f in folders), folders
    for report in (tmp_path / "ws" / "reports").glob("*/report.md"):
        assert not UNSAFE.search(report.read_text()), report
    (improved,) = (tmp_path / "ws" / "reports").glob("improve-*")
    assert json.loads((improved / "report.json").read_text())["class"] == HOSTILE_CLASS  # the data stay as they are
