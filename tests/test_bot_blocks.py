"""Block Kit payloads: rendered to fixtures under tests/fixtures/slack/, checked against Slack's limits, escaped.

A changed payload fails against its fixture; regenerate with ``AUTOGETS_UPDATE_FIXTURES=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from agent.api import ReviewDecision, ReviewPage, ReviewSample, Turn
from bot import blocks
from tests.fakes.block_kit import problems
from tests.fakes.fake_agent import HELP, HOSTILE

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
THREAD = "6f1c0c9e-0d5e-5b8e-9a51-3b0f2b7d1a10"


def _page(n: int = 4, *, hostile: bool = True, page: int = 1, pages: int = 3) -> ReviewPage:
    samples = tuple(ReviewSample(number=i + 1, key=f"k{i}", source_id=i, source_text=f"source {HOSTILE[i % 4]}",
                                 text=HOSTILE[i % 4] if hostile else f"sample {i} " + "long " * 300)
                    for i in range(n))
    return ReviewPage(run_id="run1", dataset="trec6", target="ABBR <!here>", page=page, pages=pages,
                      samples=samples, regenerations_left=1, requester="U1",
                      totals={"generated": 55, "kept": 50, "dropped": {"duplicate": 3, "<b>": 2}, "approved": 0,
                              "rejected": 0, "pending": 50}, token="3f9a0c1d2e4b5a69")


def _after_rejects() -> ReviewPage:
    """Page 2 of 10 after "r 1 3" on it (round 2; round 1 had 5 approved and 3 rejected): 8 of its 10 samples wait,
    keeping their numbers."""
    page = _page(10, hostile=False, page=2, pages=10)
    samples = tuple(replace(s, text=f"sample {s.number}") for s in page.samples if s.number not in (1, 3))
    return replace(page, samples=samples, page_samples=10, totals={
        "generated": 104, "kept": 100, "dropped": {"duplicate": 4}, "approved": 15, "rejected": 8, "pending": 87,
        "discarded": 2, "round": 1, "round_samples": 100, "round_approved": 10, "round_rejected": 5,
        "round_pending": 85})


def _report(status: str = "done", hostile: bool = True) -> Turn:
    report = {"run_id": "run1", "dataset": "trec6", "class": "ABBR", "plan_source": "default rules",
              "plan": [{"phase": "GA", "why": "small class " + (HOSTILE[0] if hostile else "")},
                       {"phase": "SW", "why": "refine"}],
              "test": {"rows": [{"class": "ABBR", "support": 17, "cba_m0": 0.882, "cba_new": 0.910, "delta": 0.028},
                                {"class": HOSTILE[3] if hostile else "HUM", "support": 260, "cba_m0": 0.93,
                                 "cba_new": 0.931, "delta": 0.001},
                                {"class": "a`b`c", "support": 5, "cba_m0": 0.5, "cba_new": 0.4, "delta": -0.1}],
                       "class_cba_gain": 0.028, "interval": [-0.01, 0.06], "support": 17, "few_examples": True,
                       "accuracy_m0": 0.853, "accuracy_new": 0.854},
              "model_id": "trec6-v3" if status != "no_gain" else None,
              "budget": {"evaluations": 200, "reused": 12, "fit_seconds": 34.2}, "files": {},
              "classifier": {"name": "minilm", "reason": "MiniLM + balanced ridge, chosen over TF-IDF + linear SVM "
                                                         "by cross-validated CBA of ABBR .879 vs .822"
                                                         + (" " + HOSTILE[2] if hostile else "")}}
    return Turn(THREAD, status, "ABBR: +0.028 " + (HOSTILE[1] if hostile else ""), run_id="run1", report=report)


CASES = {
    "progress_start": lambda: blocks.progress_message(request="improve ABBR on trec6 <!channel>", user="U1"),
    "progress_event": lambda: blocks.progress_message(
        request="improve ABBR on trec6", user="U1",
        event={"step": "search", "phase": "2/3 SW on <@U9>", "done": 120, "total": 200, "best_gain": 0.031}),
    "progress_long_request": lambda: blocks.progress_message(request="improve " + "<&>" * 400, user="U1"),
    "progress_review": lambda: blocks.progress_message(request="improve ABBR on trec6", user="U1", outcome="review"),
    "progress_plan": lambda: blocks.progress_message(request="improve ABBR on trec6", user="U1", event={
        "step": "plan", "phases": ["GA on ABBR (cba): small class <!here>", "SW on ABBR (cba): refine"]}),
    "promotion": lambda: blocks.promotion_message(Turn(THREAD, "awaiting_promotion", "trec6-v3 waits for a second "
                                                       "approval <!channel>.", data={"model_id": "trec6-v3",
                                                                                     "token": "promote:trec6-v3"}),
                                                  THREAD),
    "review_page": lambda: blocks.review_message(_page(), THREAD),
    "review_page_23": lambda: blocks.review_message(_page(23, hostile=False, page=3, pages=3), THREAD),
    "review_page_120": lambda: blocks.review_message(_page(120, hostile=False), THREAD),
    "review_page_after_rejects": lambda: blocks.review_message(_after_rejects(), THREAD),
    "regenerate_modal": lambda: blocks.regenerate_modal(blocks.decision_value(THREAD, "run1", 2, "3f9a0c1d2e4b5a69"),
                                                        "1700000003.000100"),
    "review_decided": lambda: {"text": "Review decided", "blocks": blocks.closed(
        blocks.review_message(_page(), THREAD)["blocks"],
        blocks.decision_line(ReviewDecision("approve_page", ("k1",)), "U1", [2]))},
    "report_done": lambda: blocks.report_message(_report(), THREAD),
    "report_no_gain": lambda: blocks.report_message(_report("no_gain", hostile=False), THREAD),
    "report_awaiting_promotion": lambda: blocks.report_message(_report("awaiting_promotion"), THREAD),
    "notification_registered": lambda: blocks.notification_message(
        "model_registered", {"dataset": "trec6", "class": HOSTILE[2], "run_id": "run1", "model_id": "trec6-v3",
                             "gain": 0.028, "interval": [-0.01, 0.06], "actor": "U1", "conversation": "x"},
        "https://fake.slack.com/archives/C1/p1699999999000100"),
    "notification_promoted_bad_actor": lambda: blocks.notification_message(
        "promoted", {"dataset": "trec6", "model_id": "trec6-v3", "actor": "<!channel>"}, "javascript:alert(1)"),
    "help": lambda: blocks.help_message(HELP),
    "answer_table": lambda: blocks.answer_message(
        "id        status      gain\ntrec6-v1  production  +0.010\ntrec6-v2  candidate   +0.028 <@U1>\n"),
    "answer_long": lambda: blocks.answer_message("\n".join(f"line {i} " + "x" * 200 for i in range(400))),
    "failure": lambda: blocks.failure_message("Sorry, that failed: RuntimeError: <!everyone> & more"),
    "queued": lambda: blocks.queued_message("trec6 <!here>", 2, 1),
    "refusal_ephemeral": lambda: blocks.notice_message(
        f":no_entry: Only {blocks.mention('U1')} (who asked for this run) or an approver can do that."),
    "slash_parent": lambda: blocks.slash_parent_message("U1", "improve ABBR on trec6 `<!channel>`"),
    "home": lambda: blocks.home_view(
        [{"id": "trec6-v2", "dataset": "trec6", "status": "production",
          "summary": {"class": "ABBR", "test_cba_gain": 0.028, "test_accuracy": 0.854}},
         {"id": "trec6-v3", "dataset": "trec6", "status": "candidate", "summary": {}}],
        [{"thread_id": "t1", "command": "improve ABBR on trec6", "run_id": "run1", "status": "review",
          "updated_at": "2026-11-25T10:00:00Z"},
         {"thread_id": "t2", "command": f"improve {HOSTILE[0]} on sms_spam", "run_id": "run2", "status": "done",
          "updated_at": "2026-11-24T10:00:00Z"}],
        [_page()]),
}


@pytest.mark.reliability
@pytest.mark.parametrize("name", sorted(CASES))
def test_payload_matches_fixture_and_slack_limits(name):
    payload = CASES[name]()
    surface = "view" if payload.get("type") in ("home", "modal") else "message"
    assert problems(payload, surface=surface) == []
    path = FIXTURES / f"{name}.json"
    rendered = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("AUTOGETS_UPDATE_FIXTURES") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"{name} changed: AUTOGETS_UPDATE_FIXTURES=1 to accept"


@pytest.mark.reliability
@pytest.mark.parametrize("name", ["review_page", "report_done", "notification_registered", "home", "failure",
                                  "promotion", "progress_plan"])
def test_hostile_texts_are_shown_escaped(name):
    dumped = json.dumps(CASES[name](), ensure_ascii=False)
    for raw in ("<!channel>", "<@U1> there", "<http://evil.example|here>", "&<>", "<!here>", "<!everyone>"):
        assert raw not in dumped
    escaped = {"review_page": "&lt;!channel&gt;", "report_done": "&lt;!channel&gt;",
               "notification_registered": "&lt;http://evil.example|here&gt;", "home": "&lt;!channel&gt;",
               "failure": "&lt;!everyone&gt; &amp; more", "promotion": "&lt;!channel&gt;",
               "progress_plan": "&lt;!here&gt;"}
    assert escaped[name] in dumped


def test_checkboxes_split_at_ten_options_and_blocks_stay_under_fifty():
    message = blocks.review_message(_page(23, hostile=False), THREAD)
    groups = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
              if e["type"] == "checkboxes"]
    assert [len(g["options"]) for g in groups] == [10, 10, 3]
    assert len({g["action_id"] for g in groups}) == 3
    big = blocks.review_message(_page(120, hostile=False), THREAD)
    assert len(big["blocks"]) <= 50
    assert sum(len(e["options"]) for b in big["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["type"] == "checkboxes") == 120


def test_buttons_and_values_carry_the_thread_run_and_page():
    message = blocks.review_message(_page(page=3, pages=3), THREAD)
    buttons = message["blocks"][-1]["elements"]
    labels = [b["text"]["text"] for b in buttons]
    # the last page, but 46 of the 50 pending samples are on other pages: "Next page" goes back to them
    assert labels == ["Approve page", "Approve all", "Reject all", "Regenerate", "Next page", "Cancel"]
    assert {b["value"] for b in buttons if b["action_id"] != "review:reject_all"} == {
        f"{THREAD}|run1|3|3f9a0c1d2e4b5a69"}
    assert buttons[2]["value"] == f"{THREAD}|run1|3|3f9a0c1d2e4b5a69|pending=50"   # what "Reject all" rejects
    assert blocks.parse_decision_value(buttons[0]["value"]) == (THREAD, "3", "3f9a0c1d2e4b5a69")


@pytest.mark.reliability
def test_safe_truncates_without_splitting_an_escape():
    text = "a" * 10 + "&" * 10
    out = blocks.safe(text, 14)
    assert len(out) <= 14 and out.endswith("…") and not out.rstrip("…").endswith(("&", "&a", "&am"))
    assert blocks.safe("x" * 5000, 3000).__len__() == 3000


def test_closed_removes_every_interactive_block():
    closed = blocks.closed(blocks.review_message(_page(23, hostile=False), THREAD)["blocks"], "done by <@U1>")
    assert all(b["type"] != "actions" for b in closed) and closed[-1]["type"] == "context"


@pytest.mark.reliability
def test_mentions_only_for_slack_ids_and_links_only_for_http_urls():
    assert blocks.mention("U123ABC") == "<@U123ABC>"
    assert blocks.mention("<!channel>") == "&lt;!channel&gt;"
    assert blocks.link("https://x.slack.com/archives/C1/p1", "t") == "<https://x.slack.com/archives/C1/p1|t>"
    assert blocks.link("https://x|<!channel>", "t") == "t"


def test_the_report_names_m0s_classifier_and_why():
    message = blocks.report_message(_report(hostile=False), THREAD)
    texts = [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any(t.startswith("M0: MiniLM + balanced ridge, chosen over TF-IDF") for t in texts)


# -- issue 22 items 14 and 16: untrusted text is never parsed by Slack; every message fits the budget ----------------

BARE = "@here look https://evil.example/x @channel @Everyone #general"


def _texts(obj):
    """Every text object in a payload."""
    if isinstance(obj, list):
        return [t for o in obj for t in _texts(o)]
    if not isinstance(obj, dict):
        return []
    own = [obj] if obj.get("type") in ("plain_text", "mrkdwn") else []
    return own + [t for v in obj.values() if isinstance(v, (dict, list)) for t in _texts(v)]


HOSTILE_CASES = {
    "review": lambda: blocks.review_message(ReviewPage(
        run_id="run1", dataset=f"file {BARE}.csv", target=f"ABBR {BARE}", page=1, pages=1, token="t",
        samples=(ReviewSample(number=1, key="k", source_id=1, source_text=BARE, text=BARE),), regenerations_left=1,
        requester="U1", totals={"pending": 1}), THREAD),
    "report": lambda: blocks.report_message(Turn(THREAD, "done", BARE, run_id="run1", report={
        "dataset": BARE, "class": BARE, "plan": [{"phase": BARE, "why": BARE}], "plan_source": BARE,
        "classifier": {"reason": BARE}, "test": {"rows": [{"class": BARE, "support": 1}]}, "model_id": "m-v1"}),
        THREAD),
    "answer": lambda: blocks.answer_message(f"{BARE}\n{BARE}"),
    "progress": lambda: blocks.progress_message(request=f"improve {BARE}", user="U1",
                                                event={"step": "plan", "phases": [BARE], "message": BARE}),
    "slash_parent": lambda: blocks.slash_parent_message("U1", f"improve {BARE}"),
    "failure": lambda: blocks.failure_message(BARE),
    "queued": lambda: blocks.queued_message(BARE, 1, 1),
    "notification": lambda: blocks.notification_message("promoted", {"dataset": BARE, "class": BARE,
                                                                     "model_id": BARE, "actor": BARE}, None),
    "decided": lambda: {"text": "x", "blocks": blocks.closed([], blocks.decision_line(
        ReviewDecision("regenerate", hint=BARE), "U1"))},
    "home": lambda: blocks.home_view([], [{"command": f"improve {BARE}", "status": BARE}], []),
}


@pytest.mark.reliability
@pytest.mark.parametrize("name", sorted(HOSTILE_CASES))
def test_untrusted_text_is_verbatim_and_mentions_are_neutralised(name):
    """Issue 22 item 14: with only ``&<>`` escaped, mrkdwn (``verbatim`` unset) auto-links URLs and may parse
    ``@here``. Every mrkdwn object is verbatim, and a bare @here / @channel / @everyone is shown as ``＠here``."""
    payload = HOSTILE_CASES[name]()
    surface = "view" if payload.get("type") == "home" else "message"
    assert problems(payload, surface=surface) == []
    texts = _texts(payload.get("blocks"))
    assert texts and all(t.get("verbatim") is True for t in texts if t["type"] == "mrkdwn")
    dumped = json.dumps(payload, ensure_ascii=False)
    for mention in ("@here", "@channel", "@Everyone"):
        assert mention not in dumped and f"＠{mention[1:]}" in dumped


@pytest.mark.reliability
def test_escape_neutralises_mentions_but_not_addresses():
    assert blocks.escape("mail a@here.com, ping @here and @channel!") == "mail a@here.com, ping ＠here and ＠channel!"


def _long_page(n: int, chars: int = 2000) -> ReviewPage:
    samples = tuple(ReviewSample(number=i + 1, key=f"{i:064d}", source_id=i, source_text="s " * chars,
                                 text=f"{i} " + "w&<" * chars) for i in range(n))
    return ReviewPage(run_id="run1", dataset="trec6", target="ABBR", page=1, pages=9, samples=samples,
                      regenerations_left=1, requester="U1", totals={"pending": 999}, token="t" * 16)


LONG_REPORT = {"dataset": "trec6", "class": "ABBR", "report_dir": "/srv/ws/reports/20261125-run1-trec6-ABBR",
               "plan": [{"phase": "GA " * 40, "why": "because " * 60}] * 12, "plan_source": "x" * 400,
               "classifier": {"reason": "r" * 5000},
               "test": {"rows": [{"class": f"C{i}" * 8, "support": i} for i in range(300)], "class_cba_gain": 0.1,
                        "interval": [0.0, 0.2], "support": 17, "accuracy_m0": 0.8, "accuracy_new": 0.9},
               "budget": {"evaluations": 200, "fit_seconds": 3}, "model_id": "trec6-v3"}

BUDGET_CASES = {
    "review_25_long_texts": lambda: blocks.review_message(_long_page(25), THREAD),
    "review_120_long_texts": lambda: blocks.review_message(_long_page(120), THREAD),
    "review_decided_120": lambda: {"text": "Review decided", "blocks": blocks.closed(
        blocks.review_message(_long_page(120), THREAD)["blocks"],
        blocks.decision_line(ReviewDecision("approve_page", tuple(f"k{i}" for i in range(120)), hint="h" * 900),
                             "U1", range(1, 121)))},
    "answer_140k": lambda: blocks.answer_message("\n".join(f"row {i} " + "x&" * 170 for i in range(400))),
    "answer_one_long_line": lambda: blocks.answer_message("y" * 140_000),
    "answer_table_140k": lambda: blocks.answer_message("\n".join(f"c{i}   {i}   0.5" + " " * 300
                                                                 for i in range(400))),
    "help_long": lambda: blocks.help_message("h " * 70_000),
    "report_long": lambda: blocks.report_message(Turn(THREAD, "done", "t" * 50_000, run_id="run1",
                                                      report=LONG_REPORT), THREAD),
    "failure_long": lambda: blocks.failure_message("f" * 50_000),
    "progress_long": lambda: blocks.progress_message(request="r" * 50_000, user="U1", event={
        "step": "x" * 9000, "phase": "p" * 9000, "phases": ["q" * 9000] * 9, "message": "m" * 9000}),
}


@pytest.mark.reliability
@pytest.mark.parametrize("name", sorted(BUDGET_CASES))
def test_every_message_fits_the_block_text_budget(name):
    """Issue 22 item 16: an answer carried 80–140k characters of block text and a review page of long texts
    16–32k; Slack refuses ``msg_blocks_too_long`` at 11–13k. One budget (``blocks.MESSAGE_BUDGET``) for all."""
    payload = BUDGET_CASES[name]()
    assert blocks.block_text_length(payload["blocks"]) <= blocks.MESSAGE_BUDGET == 10_000
    assert problems(payload) == []


def test_a_cut_answer_says_how_much_is_missing_and_where_the_rest_is():
    message = blocks.answer_message("\n".join(f"row {i} " + "x" * 300 for i in range(400)),
                                    more="the full report is report.md in 20261125-run1")
    last = json.dumps(message["blocks"][-1])
    assert "characters not shown" in last and "the full report is report.md in 20261125-run1" in last
    report = blocks.report_message(Turn(THREAD, "done", "t" * 50_000, run_id="run1", report=LONG_REPORT), THREAD)
    assert "report.md in 20261125-run1-trec6-ABBR" in json.dumps(report) and "/srv/ws" not in json.dumps(report)


def test_an_empty_answer_has_a_fallback_text_and_option_texts_fit_75():
    assert blocks.answer_message("")["text"].strip() and problems(blocks.answer_message("")) == []
    assert blocks.MAX_OPTION_TEXT == 75
    options = [o for b in blocks.review_message(_long_page(12), THREAD)["blocks"] if b["type"] == "actions"
               for e in b["elements"] if e["type"] == "checkboxes" for o in e["options"]]
    assert options and all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)


def test_reject_all_and_cancel_ask_for_confirmation_and_reject_all_says_it_covers_the_run():
    """Issue 22 item 7: "Reject all" rejects every pending sample of the run (not the page), without asking."""
    buttons = {b["action_id"]: b for b in blocks.review_message(_page(), THREAD)["blocks"][-1]["elements"]}
    reject, cancel = buttons["review:reject_all"], buttons["review:cancel"]
    assert "all 50 pending samples of run run1" in reject["confirm"]["text"]["text"]
    assert reject["confirm"]["confirm"]["text"] == "Reject all 50" and reject["confirm"]["style"] == "danger"
    assert "Cancel run run1" in cancel["confirm"]["text"]["text"] and cancel["confirm"]["style"] == "danger"
    assert blocks.parse_decision_value(reject["value"]) == (THREAD, "1", "3f9a0c1d2e4b5a69")
    assert blocks.pending_in_value(reject["value"]) == 50 and blocks.pending_in_value(cancel["value"]) is None
    line = blocks.decision_line(ReviewDecision("reject_all"), "U1", pending=50)
    assert line == ":ballot_box_with_check: All 50 pending samples of the run rejected by <@U1>"
    assert "All pending samples of the run rejected by" in blocks.decision_line(ReviewDecision("reject_all"), "U1")


def test_next_page_is_offered_while_samples_of_other_pages_wait():
    """Page numbers are fixed for a round and "next" after the last page goes back to the first page that still
    waits (autogets.review.review_page): the last page offers "Next page" while other pages wait, and no page offers
    it once only its own samples are left."""
    def actions(page: ReviewPage) -> set[str]:
        return {b["action_id"] for b in blocks.review_message(page, THREAD)["blocks"][-1]["elements"]}

    last = _page(page=3, pages=3)
    assert "review:next_page" in actions(last)  # 50 pending, 4 on this page
    only = replace(last, totals={**last.totals, "pending": len(last.samples)})
    assert "review:next_page" not in actions(only)
    assert "review:next_page" not in actions(replace(_page(page=1, pages=3), totals={**last.totals,
                                                                                    "pending": 4}))


def test_the_page_counts_after_rejects_read_the_same_in_slack_and_the_terminal():
    """Issue 22, asked for before: after rejects a page read "Review page 2/10", its samples renumbered 1–8, and
    "kept 100 · approved 15 · rejected 8 · pending 85" — run totals over every round beside the latest round's
    "kept", so the numbers did not add up. Now both front-ends say, from one function
    (:func:`autogets.review.review_counts`), what waits on the page and in the round, and what earlier rounds
    decided; samples keep their numbers."""
    from io import StringIO

    from rich.console import Console

    from autogets.cli.review import review_table

    page = _after_rejects()
    expected = ("8 of 10 samples on this page still to decide · 85 of 100 in this round (approved 10, rejected 5) · "
                "earlier rounds: approved 5, rejected 3 · generated 104, kept 100 (dropped 4: duplicate 4)")
    message = blocks.review_message(page, THREAD)
    assert message["blocks"][0]["text"]["text"] == "Review page 2/10 · ABBR &lt;!here&gt; on trec6"
    assert message["blocks"][1]["elements"][0]["text"].startswith(expected + " · run run1 · regenerations left 1")
    options = [o["value"].split(":")[0] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["type"] == "checkboxes" for o in e["options"]]
    assert options == ["2", "4", "5", "6", "7", "8", "9", "10"]
    console = Console(file=StringIO(), width=400)
    console.print(review_table({"page": page.page, "pages": page.pages, "target": "ABBR", "totals": page.totals,
                                "page_samples": page.page_samples, "samples": [s.__dict__ for s in page.samples]}))
    printed = " ".join(console.file.getvalue().split())   # the caption wraps at the table's width
    assert "Review ABBR samples: page 2/10" in printed and expected in printed
    # a page without the round's counts (an older agent, a double): the run's, no "earlier rounds"
    assert blocks.review_message(_page(), THREAD)["blocks"][1]["elements"][0]["text"].startswith(
        "4 of 4 samples on this page still to decide · 50 of 50 in this round (approved 0, rejected 0) · generated "
        "55, kept 50 (dropped 5: &lt;b&gt; 2, duplicate 3)")
