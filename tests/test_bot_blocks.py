"""Block Kit payloads: rendered to fixtures under tests/fixtures/slack/, checked against Slack's limits, escaped.

A changed payload fails against its fixture; regenerate with ``AUTOGETS_UPDATE_FIXTURES=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
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
    surface = "view" if payload.get("type") == "home" else "message"
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
    assert labels == ["Approve page", "Approve all", "Reject all", "Regenerate", "Cancel"]  # last page: no "Next"
    assert {b["value"] for b in buttons} == {f"{THREAD}|run1|3|3f9a0c1d2e4b5a69"}
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
