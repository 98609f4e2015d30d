"""Reviewing a page of synthetic texts in the terminal (``improve --review ask`` and ``autogets chat``).

Single-key answers: ``a`` approve this page, ``A`` approve all, ``r 3 5`` reject 3 and 5, ``R`` reject all,
``g [hint]`` regenerate (e.g. ``g shorter``), ``n`` next page, ``q`` cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from autogets.review import review_counts
from autogets.textfmt import escape_rich

KEYS_HELP = ("a approve page · A approve all · r 3 5 reject 3 and 5 · R reject all · g [hint] regenerate · n next · "
             "q cancel")


class ReviewAnswerError(ValueError):
    """The typed answer is not one of the review keys."""


def review_table(page: dict[str, Any]) -> Table:
    """The page as a table: number, source example, synthetic text; the counts in the caption, worded as in Slack
    (:func:`autogets.review.review_counts`)."""
    counts = review_counts(undecided=len(page["samples"]), page_samples=page.get("page_samples"),
                           totals=page.get("totals") or {})
    table = Table(title=f"Review {escape_rich(page.get('target', ''))} samples: page {page['page']}/{page['pages']}",
                  title_justify="left", caption=escape_rich(counts), caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("source example")
    table.add_column("synthetic text")
    for s in page["samples"]:
        table.add_row(str(s["number"]), escape_rich(s["source_text"]), escape_rich(s["text"]))
    return table


def parse_answer(answer: str, page: dict[str, Any]) -> dict[str, Any]:
    """A review decision from a typed answer; raises :class:`ReviewAnswerError` for anything else."""
    text = answer.strip()
    by_number = {s["number"]: s["key"] for s in page["samples"]}
    if text in ("a", "A", "R", "n", "q"):
        return {"action": {"a": "approve_page", "A": "approve_all", "R": "reject_all", "n": "next_page",
                           "q": "cancel"}[text], "ids": []}
    head, _, rest = text.partition(" ")
    if head == "g":
        return {"action": "regenerate", "ids": [], "hint": rest.strip()[:60]}
    if head == "r":
        try:
            numbers = [int(v) for v in rest.replace(",", " ").split()]
        except ValueError:
            raise ReviewAnswerError("after r, give sample numbers, e.g. r 3 5") from None
        unknown = [n for n in numbers if n not in by_number]
        if not numbers or unknown:
            raise ReviewAnswerError(f"no sample {unknown[0] if unknown else ''} on this page; numbers 1–"
                                    f"{len(by_number)}")
        return {"action": "reject", "ids": [by_number[n] for n in numbers]}
    raise ReviewAnswerError(f"unknown answer {text!r}; {KEYS_HELP}")


def ask_terminal(console, read: Callable[[str], str] = input, *, eof_cancels: bool = True
                 ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A reviewer that shows each page on ``console`` and reads answers with ``read`` until one is valid.
    End of input cancels, or (``eof_cancels=False``) returns ``{"eof": True}`` so the caller can leave the run
    waiting."""

    def reviewer(page: dict[str, Any]) -> dict[str, Any]:
        console.print(review_table(page))
        while True:
            try:
                answer = read(f"[{KEYS_HELP}] > ")
            except EOFError:
                return {"action": "cancel", "ids": []} if eof_cancels else {"eof": True}
            try:
                return parse_answer(answer, page)
            except ReviewAnswerError as exc:
                console.print(f"[yellow]{escape_rich(str(exc))}[/]")

    return reviewer
