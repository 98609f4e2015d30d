"""Hostile texts (generated, or class names and goals from users) in Markdown reports and on the Rich console."""

from __future__ import annotations

import io
import re

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autogets.textfmt import escape_markdown, escape_rich, one_line, visible_controls

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


# --- issue 23 item 19: terminal control sequences and bidi overrides in untrusted text -----------------------------

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What untrusted text must never bring to a terminal or a report: C0 controls but newline and tab (ESC starts
ANSI CSI/OSC sequences: colours, clearing the screen, setting the title, OSC 8 links), DEL, C1 controls (0x9b is a
one-byte CSI), and Unicode bidi overrides and isolates (Trojan Source)."""

CONTROL = ["\x1b[2J\x1b[Hcleared", "\x1b]0;pwned title\x07x", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
           "\x9b31mred", "abc\u202edcba", "\u2066iso\u2069 \u202aemb\u202c", "nul\x00bell\x07bs\x08del\x7f",
           "lone\rreturn", "vt\x0bff\x0c", "\x1b[31mred\x1b[0m\nsecond line\ttab"]


@pytest.mark.parametrize("text", CONTROL)
def test_visible_controls_leaves_no_control_and_shows_where_it_was(text):
    shown = visible_controls(text)
    assert not UNSAFE.search(shown), repr(shown)
    assert shown.count("\n") == text.count("\n") and shown.count("\t") == text.count("\t")   # kept by default
    one = visible_controls(text, keep="")
    assert not re.search("[\n\t]", one) and not UNSAFE.search(one)
    if "\x1b" in text:
        assert "␛" in shown
    if "\u202e" in text:
        assert "\\u202e" in shown
    assert visible_controls("plain — ünïcode ✓ 数据") == "plain — ünïcode ✓ 数据"


@pytest.mark.parametrize("text", CONTROL)
def test_escape_rich_and_escape_markdown_make_controls_visible(text):
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(f"[dim]{escape_rich(text)}[/]")
    table = Table()
    table.add_column(escape_rich(text))
    table.add_row(escape_rich(text))
    console.print(table)
    assert not UNSAFE.search(console.file.getvalue()), repr(console.file.getvalue())
    cell = escape_markdown(text)
    assert not UNSAFE.search(cell) and "\n" not in cell
    tokens = MARKDOWN.parse(f"| text | n |\n|---|---|\n| {cell} | 1 |\n")
    assert [t.type for t in tokens].count("td_open") == 2
    assert not any(UNSAFE.search(r) for r in inline_texts(tokens))


def test_json_on_the_console_escapes_controls_and_bidi():
    import json

    from autogets.cli.common import SafeConsole

    console = SafeConsole(file=io.StringIO(), width=200, color_system=None)
    data = {"text": "\x1b[2J \x9b \u202eevil \u2066 — ü", "ok": 1}
    console.print_json(json.dumps(data))
    printed = console.file.getvalue()
    assert not UNSAFE.search(printed) and "— ü" in printed                      # readable non-ASCII stays
    assert json.loads(printed) == data


def test_the_report_headline_escapes_the_class_name_but_the_cli_sentence_does_not():
    """Issue 23 item 20: the gain sentence under "Test split" named the class raw (``<b>NUM</b>|x`` was HTML)."""
    from autogets.report import gain_sentence, render_markdown

    cls = "<b>NUM</b>|x *y* \x1b[31m"
    rows = [{"class": c, "support": 20, "cba_m0": 0.8, "cba_new": 0.85, "delta": 0.05} for c in (cls, "b")]
    report = {"run_id": "r", "dataset": "d", "class": cls, "goal": f"cba:{cls}", "plan_source": "default rules",
              "decisions": [], "test": {"rows": rows, "class_cba_gain": 0.05, "interval": [0.0, 0.1], "support": 20,
                                        "few_examples": False, "accuracy_m0": 0.8, "accuracy_new": 0.81}}
    markdown = render_markdown(report, [], has_map=False)
    tokens = MARKDOWN.parse(markdown)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    assert not any(c.type in ("html_inline", "em_open", "strong_open") for t in tokens if t.type == "inline"
                   for c in t.children)
    headline = next(t for t in tokens if t.type == "inline" and "test CBA" in t.content)
    shown = "".join(c.content for c in headline.children if c.type == "text")
    assert shown.startswith("<b>NUM</b>|x *y* ␛[31m test CBA 0.800 → 0.850 (+0.050")
    assert not UNSAFE.search(markdown)
    assert gain_sentence(report).startswith(f"{cls} test CBA 0.800")   # the plain sentence: the CLI escapes it
