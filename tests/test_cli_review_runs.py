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


def test_a_rejected_text_trains_nothing_outside_improve_either(workspace, capsys, monkeypatch):
    """Issue 23 item 7: `search` (and kb build, bench) get synthetic texts through the same rule as `improve`: a
    text rejected in review is left out and counted, not trained on."""
    monkeypatch.setattr("sys.stdin", io.StringIO("r 1 2\nA\n"))
    assert main([*ARGS, "--review", "ask", "--workspace", str(workspace)]) == 0
    capsys.readouterr()
    from autogets.workspace import Workspace

    rejected = {r[0] for r in Workspace(workspace).db().execute(
        "SELECT s.text FROM reviews r JOIN run_samples s ON s.run_id = r.run_id AND s.key = r.key "
        "WHERE r.decision = 'rejected'").fetchall()}
    assert len(rejected) == 2
    search = [a for a in ARGS if a not in ("improve",)]
    assert main(["search", *search[:search.index("--budget")], "--budget", "3", "--executor", "serial", "--json",
                 "--workspace", str(workspace)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generation"]["cleaning"]["dropped"]["rejected_before"] == 2
    from autogets.data import load_dataset, split_dataset
    from autogets.generators import make_generator
    from autogets.generators.cache import GenerationCache
    from autogets.pipeline import synthesize_class

    split = split_dataset(load_dataset("trec6"), seed=42)
    texts = {s.text for s in synthesize_class(GenerationCache(Workspace(workspace).db()), make_generator("eda"),
                                              split, "ABBR", dataset="trec6", n_per_example=2).synthetic}
    assert texts and not texts & rejected


def test_improve_review_pages_keep_their_numbers_in_the_terminal(workspace, capsys, monkeypatch):
    """Issue 22 item 8 in the terminal: after `a` on page 1/N comes page 2/N (not "page 2/N-1", the old page 3);
    `r 1` keeps page 2/N; `n` goes on to page 3/N."""
    import re

    monkeypatch.setattr("sys.stdin", io.StringIO("a\nr 1\nn\nq\n"))
    assert main([*ARGS, "--review", "ask", "--workspace", str(workspace)]) == 1
    titles = re.findall(r"page (\d+)/(\d+)", capsys.readouterr().err)
    pages = {total for _, total in titles}
    assert len(pages) == 1 and int(pages.pop()) >= 3
    assert [page for page, _ in titles] == ["1", "2", "2", "3"]
