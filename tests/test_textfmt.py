"""Hostile texts (generated, or class names and goals from users) in Markdown reports and on the Rich console."""

from __future__ import annotations

import io

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autogets.textfmt import escape_markdown, escape_rich, one_line

pytestmark = pytest.mark.reliability  # issue 16: untrusted text in reports and on the terminal

HOSTILE = ["a | b", "line1\nline2", "[bold]x[/]", "**x** _y_ <b>", "`code`", "[red]x[/red] [/]",
           "[link=https://example.com]z[/link]", "- 1. # not a heading", "1. not a list", "+ plus", "&amp; \\ end\\",
           "~~gone~~ ![img](u) <!-- c -->", "a\r\n\tb  |c|"]
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def inline_texts(tokens) -> list[str]:
    """The literal text of each inline run, asserting it is only text (no emphasis, link, code, HTML, ...)."""
    runs = []
    for token in tokens:
        if token.type == "inline":
            assert {c.type for c in token.children} <= {"text"}, [c.type for c in token.children]
            runs.append("".join(c.content for c in token.children))
    return runs


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_markdown_renders_literally_in_a_table_cell_and_a_list_item(text):
    cell = escape_markdown(text)
    assert "\n" not in cell
    tokens = MARKDOWN.parse(f"| text | n |\n|---|---|\n| {cell} | 1 |\n")
    assert [t.type for t in tokens].count("td_open") == 2
    assert inline_texts(tokens) == ["text", "n", one_line(text), "1"]
    tokens = MARKDOWN.parse(f"- {cell} *(from example 3)*\n- second\n")
    assert [t.type for t in tokens].count("list_item_open") == 2
    assert [t.type for t in tokens].count("bullet_list_open") == 1  # no nested list, heading or rule
    item = next(t for t in tokens if t.type == "inline")
    assert "".join(c.content for c in item.children if c.type == "text").startswith(one_line(text))


def test_one_line_and_truncation():
    assert one_line("a\n\n b\tc ") == "a b c"
    assert escape_markdown("abcdefgh", max_len=5) == "abcd…"
    assert escape_markdown("ab|cdefgh", max_len=4) == "ab\\|…"  # cut first, then escaped: no half escape
    assert escape_markdown("short", max_len=5) == "short"


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_rich_prints_the_text_as_it_is(text):
    shown = text.replace("\r", "")  # rich drops carriage returns
    assert Text.from_markup(f"[dim]{escape_rich(text)}[/]").plain == shown
    assert Text.from_markup(f"{escape_rich(text)} [bold]tail[/]").plain.startswith(shown)
    table = Table()
    table.add_column("t")
    table.add_row(escape_rich(text))
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    console.print(f"  [dim]3[/] {escape_rich(text)}")
    assert one_line(text).split(" ")[0] in console.file.getvalue()


def test_improve_report_markdown_keeps_its_tables_and_list_with_hostile_texts(tmp_path):
    from autogets.generators.base import Synthetic
    from autogets.report import render_markdown

    reasons = ["knowledge map: a | b\n[x](y) *raised*", "default rules: <b>small</b> _a_"]
    decisions = [{"phase": f"SW on a ({i})", "why": why, "decision": "accepted: goal `cba` | 0.5 → 0.6",
                  "evaluations": 3, "added_texts": 2} for i, why in enumerate(reasons)]
    chosen = [Synthetic(source_id=i, sample_index=0, text=t, label="a", generator="eda", model="m",
                        prompt_version="v") for i, t in enumerate(HOSTILE)]
    rows = [{"class": c, "support": 20, "cba_m0": 0.8, "cba_new": 0.85, "delta": 0.05} for c in ("a", "b")]
    report = {"run_id": "r", "dataset": "d", "class": "a", "goal": "cba:a", "plan_source": "knowledge map",
              "decisions": decisions, "test": {"rows": rows, "class_cba_gain": 0.05, "interval": [0.0, 0.1],
                                               "support": 20, "few_examples": True, "accuracy_m0": 0.8,
                                               "accuracy_new": 0.81}}
    phases = [type("P", (), {"reason": r}) for r in reasons]
    tokens = MARKDOWN.parse(render_markdown(report, chosen))
    cells_per_row = []
    for t in tokens:
        if t.type == "tr_open":
            cells_per_row.append(0)
        elif t.type in ("td_open", "th_open"):
            cells_per_row[-1] += 1
    assert cells_per_row[:3] == [6, 6, 6]  # the phases table: header and two rows, each of 6 cells
    texts = inline_texts(t for t in tokens if t.type == "inline" and t.children
                         and all(c.type == "text" for c in t.children))
    assert one_line(phases[0].reason) in texts and "accepted: goal `cba` | 0.5 → 0.6" in texts
    items = [k for k, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(items) == 10  # the report shows the first 10
    for k, text in zip(items, HOSTILE[:10], strict=True):
        inline = next(t for t in tokens[k:] if t.type == "inline")
        assert inline.children[0].type == "text" and inline.children[0].content.startswith(one_line(text)), text


def test_bench_quality_tables_keep_a_pipe_in_a_class_name():
    from autogets.bench.quality import Cell
    from autogets.bench.tables import markdown

    cells = [Cell(s, "a|b *c*", "eda", "cba", m, 0.01, 0.8, 0.82, 0.9, 0.9, 0.85, 0.85, 3, 15, 20, 1.0)
             for s in range(2) for m in ("sw", "random")]
    tokens = MARKDOWN.parse(markdown(cells, dataset="tickets", config={"budget": 20}))
    texts = inline_texts(t for t in tokens if t.type == "inline" and t.children
                         and all(c.type == "text" for c in t.children))
    assert texts.count("a|b *c*") >= 2  # its row in the gains table and in the absolute-CBA table
