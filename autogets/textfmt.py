"""Showing untrusted texts (data sets, LLM outputs) safely: Markdown tables and Rich markup."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def escape_markdown(text: str, max_len: int | None = None) -> str:
    """One line of Markdown-safe text: newlines collapsed, specials and pipes escaped, optionally truncated."""
    flat = " ".join(str(text).split())
    if max_len is not None and len(flat) > max_len:
        flat = flat[:max_len - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", flat)


def escape_rich(text: str) -> str:
    from rich.markup import escape

    return escape(str(text))
