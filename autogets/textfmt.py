"""Texts shown to people — generated texts, class names, goals, reasons — made safe for where they are shown: a
Markdown report (table cells, list items) or Rich console markup. Both escapes keep the text readable as it was."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&!])")
_LIST_MARKER = re.compile(r"^([-+])|^(\d+)([.)])")


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
    backslash-escaped, and a leading list marker (``-``, ``+``, ``1.``) escaped."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text, max_len))
    return _LIST_MARKER.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", escaped)


def escape_rich(text: str) -> str:
    """``text`` for a Rich console string or table cell: square brackets that would read as markup tags
    (``[bold]``, ``[/]``, ``[link=…]``) are escaped, so the text prints as it is."""
    from rich.markup import escape

    return escape(str(text))
