"""Block Kit messages and views, built by pure functions (no client, no clock, no I/O).

Every text that comes from a data set, the LLM or the agent is untrusted: it goes through :func:`safe`, which
escapes ``&``, ``<`` and ``>`` as Slack requires (so ``<!channel>``, ``<@U1>`` and ``<http://x|y>`` show literally
and never ping or link), shows a bare ``@here`` / ``@channel`` / ``@everyone`` as ``＠here``, and truncates to the
field's limit without cutting an escape in half. Every ``mrkdwn`` object is ``verbatim`` (:func:`mrkdwn`), so Slack
auto-links no URL and parses no channel name or mention in it. Only ids that Slack itself gave us (user ids,
permalinks) are formatted as mentions or links, after a shape check.

Every message stays within :data:`MESSAGE_BUDGET` characters of block text (:func:`block_text_length`): Slack refuses
larger ones (``msg_blocks_too_long``). Long answers are cut with how much is missing and where the rest is; a review
page shortens its sample texts until it fits with room for the line that closes it.

Each message builder returns ``{"text": fallback, "blocks": [...]}``, ready for ``chat.postMessage(**message)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any

from agent.api import HINT_CHARS, ReviewDecision, ReviewPage, Turn
from autogets.review import review_counts
from autogets.textfmt import visible_controls

Block = dict[str, Any]
Message = dict[str, Any]

# Slack's limits (https://docs.slack.dev/reference/block-kit).
MAX_TEXT = 3000            # section / context text object
MAX_HEADER = 150           # header block (plain_text)
MAX_BUTTON_TEXT = 75
MAX_OPTION_TEXT = 75       # checkbox option text (its value: 150)
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 10           # options per checkboxes element
MAX_ACTION_ELEMENTS = 25   # elements per actions block
MAX_VALUE = 2000           # button value
MAX_BLOCKS = 50            # blocks per message
MAX_VIEW_BLOCKS = 100      # blocks per Home tab / modal
MAX_FALLBACK = 3000        # top-level "text" (notifications, screen readers)
MAX_VIEW_TITLE = 24        # a modal's title, submit and close texts
MAX_PRIVATE_METADATA = 3000   # a view's private_metadata
MESSAGE_BUDGET = 10_000    # characters of block text per message: Slack refuses msg_blocks_too_long at 11–13k
CLOSING_RESERVE = 1_000    # kept free on a message with buttons for the line that closes it (decision_line)
REPORT_TEXT_CHARS = 1500   # the report's sentence (the whole report is in report.md; the message points to it)
CUT_NOTE_ROOM = 400        # kept free on a cut text for the note saying what is missing

SAMPLE_CHARS = 600
SOURCE_CHARS = 240
OPTION_CHARS = 60

REVIEW_BUTTONS: tuple[tuple[str, str, str | None], ...] = (
    ("approve_page", "Approve page", "primary"),
    ("approve_all", "Approve all", None),
    ("reject_all", "Reject all", "danger"),
    ("regenerate", "Regenerate", None),
    ("next_page", "Next page", None),
    ("cancel", "Cancel", "danger"),
)
REVIEW_ACTION_PREFIX = "review:"
REJECTS_ACTION_PREFIX = "review_rejects_"
REGENERATE_VIEW = "review:regenerate_hint"   # callback_id of the modal "Regenerate" opens
HINT_BLOCK_ID, HINT_ACTION_ID = "regenerate_hint", "hint"
HINT_LABEL = "What should change? (optional, e.g. shorter, more formal)"
PROMOTE_ACTION = "report:promote"
DISCARD_ACTION = "report:discard"

_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_BROADCAST = re.compile(r"(?<![\w.])@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)


# -- text ----------------------------------------------------------------------------------------------------------

def escape(text: object) -> str:
    """Escape Slack's three control characters, show a bare ``@here`` / ``@channel`` / ``@everyone`` as ``＠here``
    (a fullwidth at sign: never a broadcast), and make terminal controls and bidi overrides visible
    (:func:`autogets.textfmt.visible_controls`); everything else is shown as is."""
    escaped = visible_controls(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("＠", escaped)


def cut(escaped: str, limit: int) -> str:
    """Already escaped text cut to ``limit`` characters, an ellipsis marking the cut; no escape is split."""
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[: max(0, limit - 1)]) + "…"


def safe(text: object, limit: int) -> str:
    """Escaped and truncated to ``limit`` characters (an ellipsis marks the cut; no escape is split)."""
    return cut(escape(" ".join(str(text).split()) if "\n" not in str(text) else str(text)), limit)


def code(text: str) -> str:
    """Untrusted text inside a code span or block: escaped, backticks neutralised (cut the text before, never
    the result, so no escape is split)."""
    return escape(text).replace("`", "ˋ")


def mention(user: str | None) -> str:
    """``<@U123>`` for a Slack user id, the escaped text otherwise (never a ping from untrusted text)."""
    if user and _USER_ID.match(user):
        return f"<@{user}>"
    return escape(user or "someone")


def link(url: str | None, label: str) -> str:
    """A link for a URL Slack gave us (permalink); anything odd is shown as escaped text instead."""
    if url and url.startswith(("https://", "http://")) and not re.search(r"[\s|<>]", url):
        return f"<{url}|{safe(label, 80)}>"
    return safe(label, 80)


def signed(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):+.{digits}f}"
    except (TypeError, ValueError):
        return "?"


def number(value: Any, digits: int = 3) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "?"


# -- blocks --------------------------------------------------------------------------------------------------------

def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object, always ``verbatim``: Slack formats only what the bot wrote as ``<…>`` (checked
    mentions, permalinks), never a URL, channel name or mention inside untrusted text."""
    return {"type": "mrkdwn", "text": text[:MAX_TEXT], "verbatim": True}


def plain(text: str, limit: int = MAX_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t][:10]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(safe(text, MAX_HEADER), MAX_HEADER)}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None,
           confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(safe(text, MAX_BUTTON_TEXT), MAX_BUTTON_TEXT),
                               "action_id": action_id, "value": value[:MAX_VALUE]}
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, yes: str, style: str | None = None) -> dict[str, Any]:
    dialog = {"title": plain(safe(title, 100), 100), "text": plain(safe(text, 300), 300),
              "confirm": plain(safe(yes, 30), 30), "deny": plain("Back", 30)}
    if style:
        dialog["style"] = style
    return dialog


def text_blocks(text: str, limit: int = MAX_BLOCKS, *, budget: int = MESSAGE_BUDGET, more: str = "") -> list[Block]:
    """Untrusted multi-line text as sections (split on lines to fit 3000 characters each; tables stay aligned),
    at most ``limit`` blocks and ``budget`` characters: the rest is cut, and a last section says how many
    characters are not shown and, with ``more``, where the whole text is."""
    tabular = _looks_tabular(text)
    room = MAX_TEXT - 8
    lines = text.splitlines() or [""]
    chunks: list[str] = []
    current, shown = "", 0
    for line in lines:
        piece = cut(code(line) if tabular else escape(line), room)
        if current and len(current) + len(piece) + 1 > room:
            chunks.append(current)
            current = ""
        total = sum(len(c) + 8 for c in chunks) + len(current) + len(piece) + 9
        if len(chunks) >= limit - 1 or total > budget - CUT_NOTE_ROOM:
            break
        current = f"{current}\n{piece}" if current else piece
        shown += 1
    if current:
        chunks.append(current)
    wrapped = [section(f"```{c}```" if tabular else c) for c in chunks if c.strip()] or [section("(nothing)")]
    if shown < len(lines):
        missing = sum(len(line) + 1 for line in lines[shown:])
        note = f"… {missing:,} characters not shown" + (f"; {more}" if more else "")
        wrapped = wrapped[: limit - 1] + [context(cut(note, CUT_NOTE_ROOM - 10))]
    return wrapped


def _looks_tabular(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) >= 3 and sum("  " in line.strip() or "|" in line for line in lines) >= len(lines) // 2 + 1


def fallback(text: str, default: str = "AutoGeTS") -> str:
    """The top-level ``text`` (notifications, screen readers): never empty."""
    return safe(text, MAX_FALLBACK) if str(text).strip() else default


def block_text_length(blocks: Any) -> int:
    """Characters of every text object (``plain_text`` / ``mrkdwn``) anywhere in ``blocks``: what
    :data:`MESSAGE_BUDGET` bounds."""
    if isinstance(blocks, list):
        return sum(block_text_length(b) for b in blocks)
    if not isinstance(blocks, dict):
        return 0
    own = len(str(blocks.get("text"))) if blocks.get("type") in ("plain_text", "mrkdwn") else 0
    return own + sum(block_text_length(v) for v in blocks.values() if isinstance(v, (dict, list)))


def within_budget(message: Message, reserve: int = 0) -> bool:
    """Whether ``message`` keeps ``reserve`` characters of :data:`MESSAGE_BUDGET` free."""
    return block_text_length(message["blocks"]) <= MESSAGE_BUDGET - reserve


def strip_actions(blocks: Sequence[Block]) -> list[Block]:
    """The same message without its interactive parts (buttons, checkboxes), so nobody can click twice."""
    return [b for b in blocks if b.get("type") != "actions"]


def closed(blocks: Sequence[Block], line: str) -> list[Block]:
    """``blocks`` without actions, ending with a context line saying what was decided and by whom."""
    kept = strip_actions(blocks)[: MAX_BLOCKS - 1]
    return kept + [context(line)]


# -- messages ------------------------------------------------------------------------------------------------------

def answer_message(text: str, more: str = "") -> Message:
    """The agent's answer; a text over the budget is cut, saying how much is missing and ``more`` (where the
    whole text is)."""
    if not text.strip():
        text = "(the agent gave no text)"
    return {"text": fallback(text), "blocks": text_blocks(text, more=more)}


def turn_answer_message(turn: Turn) -> Message:
    """:func:`answer_message` of a turn: a cut answer points to the run's report.md when the turn names one."""
    pointer = report_pointer(turn.report)
    return answer_message(turn.text, more=f"the whole text: {pointer}" if pointer else "")


def help_message(text: str) -> Message:
    """The agent's help, plus how to reach the bot from Slack."""
    blocks = text_blocks(text, MAX_BLOCKS - 1, budget=MESSAGE_BUDGET - 300)
    blocks.append(context("Mention me (`@autogets improve ABBR on trec6`), DM me, or use `/autogets …`. "
                          "In a run's thread: `status`, `cancel`, `approve all`."))
    return {"text": fallback(text), "blocks": blocks}


def failure_message(text: str) -> Message:
    return {"text": fallback(text), "blocks": [section(f":x: {safe(text, MAX_TEXT - 10)}")]}


def notice_message(text: str) -> Message:
    """A short bot-authored sentence (queued, refused, already decided); ``text`` may hold untrusted parts
    already passed through :func:`safe`."""
    return {"text": text[:MAX_FALLBACK], "blocks": [section(text[:MAX_TEXT])]}


def queued_message(dataset: str, position: int, running: int) -> Message:
    return notice_message(f":hourglass: *{safe(dataset, 80)}* already has {running} run(s) going. Your request "
                          f"is queued at position {position}; it starts here when its turn comes.")


def requeued_message(request: str) -> Message:
    """Said in a thread whose request was waiting in the queue when the bot restarted (issue 22 item 4)."""
    return notice_message(f":arrows_counterclockwise: Restarted: your queued request `{code(request[:300])}` is "
                          "asked again, in its place in the queue.")


def slash_parent_message(user: str, text: str) -> Message:
    line = f"{mention(user)} asked: `/autogets {code(text[:500])}`"
    return {"text": line, "blocks": [section(line)]}


_STEP_LABELS = {"generate": "Generating synthetic texts", "search": "Searching", "diagnose": "Diagnosing",
                "plan": "Planning", "report": "Writing the report", "review": "Waiting for review"}
_OUTCOME_LINES = {"review": ":eyes: Waiting for a review: the page is below.",
                  "done": ":white_check_mark: Finished: the report is below.",
                  "no_gain": ":white_check_mark: Finished without a gain: the report is below.",
                  "awaiting_promotion": ":white_check_mark: Finished: the report is below, waiting for approval.",
                  "failed": ":x: Stopped: see below.",
                  "cancelled": ":no_entry_sign: Cancelled.",
                  "answer": ":speech_balloon: Answered below.",
                  "refused": ":no_entry: Refused.",
                  "running": ":hourglass: Still running elsewhere.",
                  "stopped": ":pause_button: Stopped: say resume in this thread to continue."}


def progress_message(*, request: str, user: str, event: dict[str, Any] | None = None,
                     outcome: str | None = None) -> Message:
    """The one progress message of a run: what was asked, by whom, and the latest step (or the outcome)."""
    head = f":gear: Working on `{code(request[:300])}` for {mention(user)}"
    line = _OUTCOME_LINES.get(outcome or "", "") if outcome else progress_line(event)
    blocks = [section(head), context(line or "Starting…")]
    return {"text": f"Working on {safe(request, 200)}", "blocks": blocks}


def progress_line(event: dict[str, Any] | None) -> str:
    """An agent progress event in one line, e.g. ``{"step": "search", "phase": "2/3 SW on LOC", "done": 120,
    "total": 200, "best_gain": 0.031}`` → ``Searching (2/3 SW on LOC): 120/200 · best validation gain +0.031``."""
    if not event:
        return "Starting…"
    step = str(event.get("step", "working"))
    line = safe(_STEP_LABELS.get(step, step.capitalize()), 60)
    if event.get("command"):
        line = f"Understood: `{code(str(event['command'])[:300])}`"
    if event.get("phase"):
        line += f" ({safe(event['phase'], 120)})"
    if event.get("done") is not None:
        total = event.get("total")
        line += f": {safe(event['done'], 12)}" + (f"/{safe(total, 12)}" if total is not None else "")
    if event.get("best_gain") is not None:
        line += f" · best validation gain {signed(event['best_gain'])}"
    if event.get("decision") is not None:
        kept = "accepted" if event.get("accepted") else "reverted"
        line += f": {kept}" + (f", {safe(event.get('added_texts'), 8)} texts added" if event.get("accepted") else "")
    phases = event.get("phases")
    if isinstance(phases, list) and phases:
        line += ": " + " → ".join(safe(p, 120) for p in phases[:4])
    if event.get("message"):
        line += f" · {safe(event['message'], 300)}"
    return line[:MAX_TEXT]


# How much of each sample a review page shows (text, source text, option text), tried in order until the page fits
# the budget with room to close it: many or long samples are shown shorter, never dropped.
REVIEW_LENGTHS: tuple[tuple[int, int, int], ...] = (
    (SAMPLE_CHARS, SOURCE_CHARS, OPTION_CHARS), (300, 120, 50), (160, 60, 40), (90, 30, 24), (50, 0, 12), (24, 0, 0))


def review_message(page: ReviewPage, thread_id: str) -> Message:
    """A review page: samples (escaped, truncated), reject checkboxes (≤ 10 per element), the decision buttons;
    within the budget, with :data:`CLOSING_RESERVE` left for the line that closes it."""
    message: Message = {}
    for lengths in REVIEW_LENGTHS:
        message = _review_message(page, thread_id, *lengths)
        if within_budget(message, CLOSING_RESERVE):
            break
    return message


def _review_message(page: ReviewPage, thread_id: str, sample_chars: int, source_chars: int,
                    option_chars: int) -> Message:
    samples = list(page.samples)
    per_section = max(1, math.ceil(len(samples) / 36))
    sample_chars = min(sample_chars, max(80, SAMPLE_CHARS // per_section))
    source_chars = min(source_chars, max(40, SOURCE_CHARS // per_section))
    blocks: list[Block] = [header(f"Review page {page.page}/{page.pages} · {page.target} on {page.dataset}"),
                           context(_totals_line(page))]
    for start in range(0, len(samples), per_section):
        chunk = samples[start: start + per_section]
        blocks.append(section("\n\n".join(_sample_lines(s, sample_chars, source_chars) for s in chunk)))
    value = decision_value(thread_id, page.run_id, page.page, getattr(page, "token", ""))
    if samples:
        blocks.append(context("Tick the samples to reject, then *Approve page* (the others are kept)."))
        groups = [samples[i: i + MAX_OPTIONS] for i in range(0, len(samples), MAX_OPTIONS)]
        for start in range(0, len(groups), 5):
            blocks.append({"type": "actions", "block_id": f"review_rejects_block_{start // 5}", "elements": [
                {"type": "checkboxes", "action_id": f"{REJECTS_ACTION_PREFIX}{start + i}",
                 "options": [_reject_option(s, option_chars) for s in group]}
                for i, group in enumerate(groups[start: start + 5])]})
    blocks.append({"type": "actions", "block_id": "review_buttons", "elements": _review_buttons(page, value)})
    text = f"Review page {page.page}/{page.pages} of {page.target} on {page.dataset}: {len(samples)} samples"
    return {"text": fallback(text), "blocks": blocks}


def _review_buttons(page: ReviewPage, value: str) -> list[dict[str, Any]]:
    """The decision buttons; "Reject all" (every pending sample of the run, not only this page) and "Cancel" ask
    first, and "Reject all" carries the number of pending samples it rejects, for the line that closes the page."""
    pending = pending_count(page)
    many = f"all {pending} pending samples" if pending is not None else "all pending samples"
    special = {
        "reject_all": (f"{value}{_PENDING_MARK}{pending}" if pending is not None else value,
                       confirm_dialog("Reject all?", f"This rejects {many} of run {page.run_id}, not only this "
                                      "page.", f"Reject all {pending}" if pending is not None else "Reject all",
                                      "danger")),
        "cancel": (value, confirm_dialog("Cancel the run?", f"Cancel run {page.run_id}? Nothing more is generated, "
                                         "searched or registered for it.", "Cancel the run", "danger")),
    }
    buttons = []
    for action, label, style in REVIEW_BUTTONS:
        if (action == "regenerate" and page.regenerations_left <= 0) or (action == "next_page"
                                                                        and not _others_wait(page, pending)):
            continue
        own_value, confirm = special.get(action, (value, None))
        buttons.append(button(label, f"{REVIEW_ACTION_PREFIX}{action}", own_value, style, confirm))
    return buttons


def _others_wait(page: ReviewPage, pending: int | None) -> bool:
    """Whether samples outside this page still wait: "Next page" goes to them (after the last page, back to the
    first page that waits; autogets.review.review_page)."""
    if pending is None:
        return page.page < page.pages
    return pending > len(page.samples)


def pending_count(page: ReviewPage) -> int | None:
    """The run's pending samples as the page shows them (``totals["pending"]``), if it says."""
    pending = (page.totals or {}).get("pending")
    return int(pending) if isinstance(pending, int) or str(pending).isdigit() else None


def _sample_lines(sample: Any, text_chars: int, source_chars: int) -> str:
    line = f"*{sample.number}.* {safe(sample.text, text_chars)}"
    return line + (f"\n_from:_ {safe(sample.source_text, source_chars)}" if source_chars else "")


def _reject_option(sample: Any, text_chars: int) -> dict[str, Any]:
    label = f"#{sample.number} {safe(sample.text, text_chars)}" if text_chars else f"#{sample.number}"
    return {"text": plain(label, MAX_OPTION_TEXT), "value": f"{sample.number}:{sample.key}"[:MAX_OPTION_VALUE]}


def decision_value(thread_id: str, run_id: str | None, page: int, token: str) -> str:
    """What a decision button carries: the agent thread, the run, the page and the page's token."""
    return f"{thread_id}|{run_id or ''}|{page}|{token}"[:MAX_VALUE]


_PENDING_MARK = "|pending="


def pending_in_value(value: str) -> int | None:
    """The pending samples "Reject all" said it rejects (see :func:`_review_buttons`), else None."""
    _, mark, count = value.rpartition(_PENDING_MARK)
    return int(count) if mark and count.isdigit() else None


def parse_decision_value(value: str) -> tuple[str, str, str]:
    """``(thread_id, page, token)`` from :func:`decision_value` (a "Reject all" value's pending count aside)."""
    if pending_in_value(value) is not None:
        value = value.rpartition(_PENDING_MARK)[0]
    thread_id, _, rest = value.partition("|")
    _run, _, rest = rest.partition("|")
    page, _, token = rest.partition("|")
    return thread_id, page, token


def regenerate_modal(value: str, message_ts: str) -> dict[str, Any]:
    """The modal "Regenerate" opens: one optional field for the hint (at most :data:`HINT_CHARS`, what the agent
    keeps). ``private_metadata`` carries only the button's value (thread, run, page, page token) and the review
    message's ts — identifiers the page already shows its viewers, no secret — within Slack's 3,000 characters."""
    metadata = json.dumps({"value": value[:MAX_VALUE], "ts": str(message_ts)[:40]}, separators=(",", ":"))
    assert len(metadata) <= MAX_PRIVATE_METADATA  # MAX_VALUE + 40 + the keys
    return {
        "type": "modal", "callback_id": REGENERATE_VIEW, "private_metadata": metadata,
        "title": plain("Regenerate", MAX_VIEW_TITLE), "submit": plain("Regenerate", MAX_VIEW_TITLE),
        "close": plain("Back", MAX_VIEW_TITLE),
        "blocks": [
            section("New texts replace the samples of this round that nobody decided yet; those already approved "
                    "or rejected keep their decision."),
            {"type": "input", "block_id": HINT_BLOCK_ID, "optional": True, "label": plain(HINT_LABEL, 2000),
             "element": {"type": "plain_text_input", "action_id": HINT_ACTION_ID, "max_length": HINT_CHARS,
                         "placeholder": plain("shorter", 150)}},
        ]}


def modal_target(private_metadata: str) -> tuple[str, str] | None:
    """``(value, message_ts)`` from :func:`regenerate_modal`'s metadata; None for anything else (a forged or
    broken submission)."""
    try:
        data = json.loads(private_metadata or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("value"), str) or not isinstance(data.get("ts"), str):
        return None
    if data["value"].count("|") < 3 or not data["ts"]:
        return None
    return data["value"], data["ts"]


def promotion_message(turn: Turn, thread_id: str) -> Message:
    """A promotion waiting for a second approver: Approve / Decline (answered like a review decision)."""
    model_id = str(turn.data.get("model_id") or "the model")
    token = str(turn.data.get("token") or "")
    value = decision_value(thread_id, turn.run_id, 0, token)
    text = turn.text or f"{model_id} waits for a second approval before production."
    return {"text": fallback(text), "blocks": [
        section(f":lock: {safe(text, 2000)}"),
        context("An approver other than the requester decides."),
        {"type": "actions", "block_id": "promotion_buttons", "elements": [
            button(f"Approve {model_id}", f"{REVIEW_ACTION_PREFIX}approve_all", value, "primary",
                   confirm_dialog("Approve?", f"Put {model_id} in production?", "Approve")),
            button("Decline", f"{REVIEW_ACTION_PREFIX}reject_all", value, "danger")]}]}


def _totals_line(page: ReviewPage) -> str:
    """The page's counts, worded as in the terminal (:func:`autogets.review.review_counts`), then the run."""
    counts = review_counts(undecided=len(page.samples), page_samples=page.page_samples, totals=page.totals or {})
    parts = [safe(counts, 1500), f"run {safe(page.run_id, 60)}", f"regenerations left {page.regenerations_left}"]
    if page.requester:
        parts.append(f"requested by {mention(page.requester)}")
    return " · ".join(parts)


DECISION_NUMBERS = 40   # sample numbers listed on a closed page (its line fits CLOSING_RESERVE)
_DECISION_WORDS = {"approve_page": "Page approved", "approve_all": "Everything approved",
                   "reject_all": "All pending samples of the run rejected", "reject": "Samples rejected",
                   "regenerate": "Regeneration asked", "next_page": "Page skipped", "cancel": "Run cancelled"}


def decision_line(decision: ReviewDecision, user: str, rejected_numbers: Iterable[int] = (),
                  pending: int | None = None) -> str:
    """``:ballot_box_with_check: Page approved by <@U1> · rejected #2, #5``; for "Reject all" with ``pending``
    (the count its button carried): ``All 50 pending samples of the run rejected by <@U1>``."""
    words = _DECISION_WORDS.get(decision.action, decision.action)
    if decision.action == "reject_all" and pending is not None:
        words = f"All {pending} pending samples of the run rejected"
    if str(getattr(decision, "token", "")).startswith("promote:"):
        words = "Promotion approved" if decision.action.startswith("approve") else "Promotion declined"
    line = f":ballot_box_with_check: {words} by {mention(user)}"
    numbers = sorted(rejected_numbers)
    if numbers:
        line += " · rejected " + ", ".join(f"#{n}" for n in numbers[:DECISION_NUMBERS])
        line += f" and {len(numbers) - DECISION_NUMBERS} more" if len(numbers) > DECISION_NUMBERS else ""
    if decision.hint:
        line += f" · hint: {safe(decision.hint, 200)}"
    return line


def report_message(turn: Turn, thread_id: str) -> Message:
    """The result of a run: plan and why, per-class test table (M0 vs new, support), gain with its interval,
    budget spent, and Promote / Discard buttons when a model was registered."""
    report = turn.report or {}
    test = report.get("test") or {}
    target, dataset = report.get("class", "?"), report.get("dataset", "?")
    gain = test.get("class_cba_gain")
    title = f"{target} on {dataset}: {signed(gain)} class CBA on test" if gain is not None else \
        f"{target} on {dataset}: finished"
    blocks: list[Block] = [header(title)]
    if turn.text:
        blocks.append(section(safe(turn.text, REPORT_TEXT_CHARS)))
    plan = report.get("plan") or []
    if plan:
        lines = [f"• *{safe(p.get('phase', '?'), 80)}* — {safe(p.get('why', ''), 300)}" for p in plan[:12]]
        source = report.get("plan_source")
        blocks.append(section(safe_join("*Plan*" + (f" (from {safe(source, 160)})" if source else ""), lines)))
    classifier = (report.get("classifier") or {}).get("reason")
    if classifier:
        blocks.append(context(f"M0: {safe(classifier, 300)}"))
    rows = test.get("rows") or []
    if rows:
        blocks.append(section(_table(rows, str(target))))
    facts = []
    if gain is not None:
        interval = test.get("interval") or []
        span = f" (interval {signed(interval[0])} to {signed(interval[1])})" if len(interval) == 2 else ""
        support = test.get("support")
        few = " (few: read the gain with care)" if test.get("few_examples") else ""
        facts.append(f"*Class CBA gain on test*\n{signed(gain)}{span}"
                     + (f"\n{safe(support, 12)} test examples{few}" if support is not None else ""))
    if test.get("accuracy_m0") is not None:
        facts.append(f"*Accuracy on test*\n{number(test.get('accuracy_m0'))} → {number(test.get('accuracy_new'))}")
    budget = report.get("budget") or {}
    if budget:
        seconds = budget.get("seconds", budget.get("fit_seconds"))
        reused = f" ({safe(budget['reused'], 12)} reused)" if budget.get("reused") else ""
        facts.append(f"*Budget spent*\n{safe(budget.get('evaluations', '?'), 12)} evaluations{reused}, "
                     f"{number(seconds, 0)} s")
    model_id = report.get("model_id")
    if model_id:
        facts.append(f"*Model*\n`{code(str(model_id)[:100])}`")
    if facts:
        blocks.append({"type": "section", "fields": [mrkdwn(f) for f in facts[:10]]})
    pointer = report_pointer(report)
    if pointer:
        blocks.append(context(f"The full report: {safe(pointer, 300)}."))
    if model_id and turn.status in ("done", "awaiting_promotion"):
        value = f"{thread_id}|{model_id}"
        note = "Promote puts it in production" + (" (a second approver is needed)."
                                                   if turn.status == "awaiting_promotion" else ".")
        blocks.append(context(note + " Plots follow in this thread."))
        blocks.append({"type": "actions", "block_id": "report_buttons", "elements": [
            button(f"Promote {model_id}", PROMOTE_ACTION, value, "primary",
                   confirm_dialog("Promote?", f"Put {model_id} in production for {dataset}?", "Promote")),
            button("Discard", DISCARD_ACTION, value)]})
    return {"text": fallback(title), "blocks": blocks[:MAX_BLOCKS]}


def report_pointer(report: dict[str, Any] | None) -> str:
    """Where a run's whole report is, without the server's path: ``report.md in <report folder name>``."""
    folder = PurePath(str((report or {}).get("report_dir") or "")).name
    return f"report.md in {folder}" if folder else ""


def safe_join(head: str, lines: Sequence[str]) -> str:
    text = head
    for line in lines:
        if len(text) + len(line) + 2 > MAX_TEXT:
            return text + "\n…"
        text += "\n" + line
    return text


def _table(rows: Sequence[dict[str, Any]], target: str) -> str:
    width = min(14, max([len(str(r.get("class", ""))) for r in rows] + [5]))
    lines = [f"{'class':<{width + 1}} {'support':>7} {'M0':>6} {'new':>6} {'Δ':>7}"]
    for r in rows:
        name = str(r.get("class", ""))
        name = (name[: width - 1] + "…") if len(name) > width else name
        mark = "*" if str(r.get("class")) == target else " "
        lines.append(f"{name:<{width}}{mark} {str(r.get('support', '')):>7} {number(r.get('cba_m0')):>6} "
                     f"{number(r.get('cba_new')):>6} {signed(r.get('delta')):>7}")
    body = "\n".join(code(line) for line in lines)
    caption = "*Per class on test* (CBA; * the improved class)\n"
    if len(caption) + len(body) + 6 > MAX_TEXT:
        body = body[: MAX_TEXT - len(caption) - 10] + "\n…"
    return f"{caption}```{body}```"


_NOTIFY_VERBS = {"model_registered": ":package: New model", "promoted": ":rocket: Promoted",
                 "rolled_back": ":rewind: Rolled back", "finished": ":checkered_flag: Run finished",
                 "failed": ":x: Run failed", "run_started": ":gear: Run started",
                 "review_needed": ":eyes: Review needed"}


def notification_message(kind: str, payload: dict[str, Any], permalink: str | None) -> Message:
    """A team notification: what happened, the gain with its interval, who, and a link to the thread."""
    verb = _NOTIFY_VERBS.get(kind, safe(kind, 40))
    subject = " ".join(safe(payload[k], 80) for k in ("model_id",) if payload.get(k))
    where = safe(payload.get("dataset") or "?", 80)
    if payload.get("class"):
        where = f"{safe(payload['class'], 80)} on {where}"
    line = f"{verb} {('`' + code(subject) + '` ') if subject else ''}for {where}"
    if payload.get("gain") is not None:
        interval = payload.get("interval") or []
        span = f" (interval {signed(interval[0])} to {signed(interval[1])})" if len(interval) == 2 else ""
        line += f": {signed(payload['gain'])} class CBA on test{span}"
    details = [f"by {mention(payload.get('actor'))}"]
    if payload.get("run_id"):
        details.append(f"run {safe(payload['run_id'], 60)}")
    if permalink:
        details.append(link(permalink, "open the thread"))
    return {"text": fallback(line.replace("`", "")), "blocks": [section(line), context(" · ".join(details))]}


def home_view(models: Sequence[dict[str, Any]], threads: Sequence[dict[str, Any]],
              pending: Sequence[ReviewPage]) -> dict[str, Any]:
    """App Home: per data set its production model and key numbers, the runs waiting for review, the last runs."""
    blocks: list[Block] = [header("AutoGeTS"),
                           context("Mention me or DM me: `improve ABBR on trec6`, `status`, `models trec6`, `help`.")]
    datasets = sorted({str(m.get("dataset")) for m in models} | {p.dataset for p in pending})
    for dataset in datasets[:15]:
        blocks.append(divider())
        prod = next((m for m in models if m.get("dataset") == dataset and m.get("status") == "production"), None)
        candidates = sum(1 for m in models if m.get("dataset") == dataset and m.get("status") == "candidate")
        if prod:
            summary = prod.get("summary") or {}
            line = (f"*{safe(dataset, 80)}* · production `{code(str(prod.get('id', '?'))[:60])}`: "
                    f"{safe(summary.get('class', '?'), 40)} {signed(summary.get('test_cba_gain'))} class CBA on test, "
                    f"accuracy {number(summary.get('test_accuracy'))}")
        else:
            line = f"*{safe(dataset, 80)}* · no production model yet"
        if candidates:
            line += f" · {candidates} candidate(s)"
        blocks.append(section(line))
        for p in [p for p in pending if p.dataset == dataset][:5]:
            blocks.append(section(f":eyes: {safe(p.target, 40)}: page {p.page}/{p.pages} waits for review "
                                  f"(run {safe(p.run_id, 60)}, requested by {mention(p.requester)})"))
    recent = [t for t in threads if t.get("command") or t.get("run_id")][:8]
    if recent:
        blocks.append(divider())
        blocks.append(section("*Last requests*"))
        blocks.append(context(*[f"`{code(str(t.get('command') or t.get('run_id') or '?')[:120])}` · "
                                f"{safe(t.get('status') or '?', 30)} · {safe(t.get('updated_at') or '', 30)}"
                                for t in recent]))
    if not datasets and not recent:
        blocks.append(section("Nothing yet: try `improve ABBR on trec6`."))
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
