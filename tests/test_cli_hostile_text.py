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
