"""`improve --review ask` in the terminal, and `autogets runs`."""

from __future__ import annotations

import io
import json

import pytest

from autogets.cli import main
from autogets.cli.review import ReviewAnswerError, parse_answer

ARGS = ["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "2", "--budget", "8",
        "--max-sources", "15", "--executor", "serial"]
PAGE = {"page": 1, "pages": 3, "totals": {}, "samples": [{"number": i, "key": f"k{i}"} for i in (1, 2, 3)]}


@pytest.mark.parametrize("answer, decision", [
    ("a", {"action": "approve_page", "ids": []}), ("A", {"action": "approve_all", "ids": []}),
    ("R", {"action": "reject_all", "ids": []}), ("n", {"action": "next_page", "ids": []}),
    ("q", {"action": "cancel", "ids": []}), ("r 3 1", {"action": "reject", "ids": ["k3", "k1"]}),
    ("r 2,3", {"action": "reject", "ids": ["k2", "k3"]}),
    ("g more formal", {"action": "regenerate", "ids": [], "hint": "more formal"}),
])
def test_review_answers(answer, decision):
    assert parse_answer(answer, PAGE) == decision


@pytest.mark.parametrize("answer, message", [("r", "no sample"), ("r 9", "no sample 9"), ("r x", "sample numbers"),
                                             ("yes", "unknown answer")])
def test_bad_review_answers_say_what_is_valid(answer, message):
    with pytest.raises(ReviewAnswerError, match=message):
        parse_answer(answer, PAGE)


def test_improve_review_ask_rejects_then_approves_and_runs_show_it(workspace, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("r 1\nwhat\nA\n"))
    assert main([*ARGS, "--review", "ask", "--workspace", str(workspace)]) == 0
    captured = capsys.readouterr()
    assert "Review ABBR samples" not in captured.out and "unknown answer 'what'" in captured.err
    assert "95% bootstrap interval" in captured.out
    assert main(["runs", "list", "--json", "--workspace", str(workspace)]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["status"] in ("done", "no_gain") and run["class"] == "ABBR" and run["interval"]
    assert {"diagnose", "plan", "generate:0", "search", "report", "register"} <= set(run["steps"])
    assert main(["runs", "show", run["id"], "--workspace", str(workspace)]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == run["id"]
    from autogets.workspace import Workspace

    decisions = dict(Workspace(workspace).db().execute(
        "SELECT decision, count(*) FROM reviews GROUP BY decision").fetchall())
    assert decisions["rejected"] == 1 and decisions["approved"] > 0


def test_improve_review_cancel_trains_nothing(workspace, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    assert main([*ARGS, "--review", "ask", "--workspace", str(workspace)]) == 1
    assert "cancelled at review" in capsys.readouterr().err
    assert main(["models", "list", "--json", "--workspace", str(workspace)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["runs", "show", "nope", "--workspace", str(workspace)]) == 2
    assert main([*ARGS, "--review", "maybe", "--workspace", str(workspace)]) == 2
