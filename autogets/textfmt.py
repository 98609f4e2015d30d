"""Texts shown to people — generated texts, class names, goals, reasons, file names — made safe for where they are
shown: a Markdown report (table cells, list items) or Rich console markup. Both escapes keep the text readable as it
was.

One authority for control characters: :func:`visible_controls` makes every C0/C1 control (but newline and tab where
a multi-line text is meant) and every Unicode bidi override or isolate visible, so untrusted text can neither send
a terminal an ANSI/OSC sequence (colours, clearing, the window title, OSC 8 links) nor reorder what is shown
(Trojan Source). :func:`escape_rich` and :func:`escape_markdown` apply it; so do the CLI's error lines and JSON
output, report folder names, plot labels (:mod:`autogets.plots`) and the Slack bot's escaping."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes C0 itself
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&!])")
_LIST_MARKER = re.compile(r"^([-+])|^(\d+)([.)])")


def visible_controls(text: object, *, keep: str = "\n\t") -> str:
    """``text`` with every control character made visible: C0 controls and DEL as their Unicode control pictures
    (ESC → ␛, NUL → ␀, CR → ␍, DEL → ␡), C1 controls and the bidi overrides and isolates (U+202A–U+202E,
    U+2066–U+2069) as ``\\u`` escapes (``\\u202e``). The characters in ``keep`` stay (newline and tab by default:
    a multi-line text; ``keep=""`` for one line), and CR LF is a newline where newlines stay."""
    s = str(text)
    if "\n" in keep and "\r\n" in s:
        s = s.replace("\r\n", "\n")
    return _CONTROLS.sub(lambda m: m[0] if m[0] in keep else _visible(m[0]), s)


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else f"\\u{code:04x}"


def visible_in_json(text: str) -> str:
    """JSON ``text`` (as :func:`json.dumps` writes it with ``ensure_ascii=False``: C0 controls already escaped, the
    newlines of its indentation structural) with the DEL, C1 controls and bidi overrides it may hold raw written as
    ``\\u`` escapes: the same JSON value, safe on a terminal, readable non-ASCII kept."""
    return _CONTROLS_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def one_line(text: str, max_len: int | None = None) -> str:
    """``text`` on one line (runs of whitespace, newlines included, become one space); cut to ``max_len``
    characters, the last being "…", if it is longer."""
    flat = _WHITESPACE.sub(" ", str(text)).strip()
    if max_len is not None and len(flat) > max_len:
        flat = flat[:max(0, max_len - 1)].rstrip() + "…"
    return flat


def escape_markdown(text: str, max_len: int | None = None) -> str:
    """``text`` as inline Markdown that renders literally inside a table cell or a list item: on one line (see
    :func:`one_line`, which ``max_len`` is passed to), with Markdown's special characters and the table pipe
    backslash-escaped, and a leading list marker (``-``, ``+``, ``1.``) escaped; control characters made visible
    first (:func:`visible_controls`)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(visible_controls(text), max_len))
    return _LIST_MARKER.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def escape_rich(text: str) -> str:
    """``text`` for a Rich console string or table cell: square brackets that would read as markup tags
    (``[bold]``, ``[/]``, ``[link=…]``) are escaped, so the text prints as it is; control characters made visible
    (:func:`visible_controls`; newlines and tabs stay)."""
    from rich.markup import escape

    return escape(visible_controls(text))
