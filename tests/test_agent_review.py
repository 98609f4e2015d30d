"""Review pages and replies typed in a waiting thread (issue 22 items 8 and 10): real graph, real SqliteSaver, EDA
generator on TREC-6 ABBR."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent
from autogets.workspace import Workspace


def make_agent(ws: Path, **overrides) -> Agent:
    params = {"workspace": ws, "generator": "eda", "budget": 8, "n_per_example": 2, "max_sources": 20,
              "executor": "serial", "notifier": ListNotifier(), "progress_interval": 0.0, **overrides}
    return Agent(AgentContext(**params))


@pytest.fixture
def agent(tmp_path):
    a = make_agent(tmp_path / "ws")
    yield a
    a.close()


def round_pages(ws: Path, run_id: str, size: int = 10) -> list[list[str]]:
    """The latest round's sample keys in review order, cut into pages of ``size``."""
    keys = [r[0] for r in Workspace(ws).db().execute(
        "SELECT key FROM run_samples WHERE run_id = ? AND round = (SELECT max(round) FROM run_samples WHERE "
        "run_id = ?) ORDER BY position", [run_id, run_id]).fetchall()]
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def shown(turn) -> list[str]:
    return [s.key for s in turn.review.samples]


@pytest.mark.reliability
def test_pages_keep_their_numbers_and_next_means_the_next_samples(agent, tmp_path):
    """Item 8: "Approve page" on page 1/N shows page 2/N with the round's second ten samples (it showed the third
    ten as "page 2/N-1"); a reject keeps the page and its number; the page count never moves within a round; "next"
    past the last page comes back to the first page that still waits."""
    turn = agent.ask("t:pages", "improve ABBR on trec6", user="alice")
    pages = round_pages(tmp_path / "ws", turn.run_id)
    n = len(pages)
    assert n >= 4 and turn.review.page == 1 and turn.review.pages == n and shown(turn) == pages[0]

    turn = agent.review(turn.thread_id, ReviewDecision(action="approve_page", token=turn.review.token), user="alice")
    assert (turn.review.page, turn.review.pages) == (2, n) and shown(turn) == pages[1]

    rejected = tuple(pages[1][:3])
    turn = agent.review(turn.thread_id, ReviewDecision(action="reject", ids=rejected, token=turn.review.token),
                        user="alice")
    assert (turn.review.page, turn.review.pages) == (2, n), "a reject keeps the page and the page count"
    assert shown(turn) == pages[1][3:], "the page's other samples, none pulled in from page 3"
    assert [s.number for s in turn.review.samples] == list(range(1, len(pages[1]) - 2))

    turn = agent.review(turn.thread_id, ReviewDecision(action="next_page", token=turn.review.token), user="alice")
    assert (turn.review.page, turn.review.pages) == (3, n) and shown(turn) == pages[2]
    while turn.review.page < n:
        turn = agent.review(turn.thread_id, ReviewDecision(action="next_page", token=turn.review.token), user="alice")
    assert shown(turn) == pages[n - 1]
    turn = agent.review(turn.thread_id, ReviewDecision(action="next_page", token=turn.review.token), user="alice")
    assert (turn.review.page, turn.review.pages) == (2, n), "page 1 is decided: the first page that still waits"
    assert shown(turn) == pages[1][3:]

    turn = agent.review(turn.thread_id, ReviewDecision(action="reject_all", token=turn.review.token), user="alice")
    assert turn.status in ("done", "no_gain"), turn.text


@pytest.mark.reliability
def test_approving_every_page_in_turn_shows_each_page_once_in_order(agent, tmp_path):
    turn = agent.ask("t:order", "improve ABBR on trec6", user="alice")
    pages = round_pages(tmp_path / "ws", turn.run_id)
    seen = []
    while turn.status == "review":
        seen.append((turn.review.page, turn.review.pages, shown(turn)))
        turn = agent.review(turn.thread_id, ReviewDecision(action="approve_page", token=turn.review.token),
                            user="alice")
    assert seen == [(i + 1, len(pages), keys) for i, keys in enumerate(pages)]
    assert turn.status in ("done", "no_gain")


def decided(ws: Path) -> int:
    return Workspace(ws).db().execute("SELECT count(*) FROM reviews").fetchone()[0]


@pytest.mark.reliability
@pytest.mark.parametrize("text, word", [("approve", "approve all"), ("Approve!", "approve all"),
                                        ("@autogets approve", "approve all"), ("approve page", "approve all"),
                                        ("approve it", "approve all"), ("cancel now", "cancel")])
def test_a_bare_approve_in_a_waiting_thread_approves_nothing_and_says_what_to_write(agent, tmp_path, text, word):
    """Item 10: the grammar and SECURITY.md accept `approve all` only; a bare `approve` approved everything."""
    turn = agent.ask("t:bare", "improve ABBR on trec6", user="alice")
    reply = agent.ask("t:bare", text, user="alice")
    assert reply.status == "answer" and reply.run_id == turn.run_id, reply.text
    assert decided(tmp_path / "ws") == 0
    assert f"write: {word}" in reply.text or f"write just: {word}" in reply.text
    still = agent.review(turn.thread_id, ReviewDecision(action="next_page", token=turn.review.token), user="alice")
    assert still.status == "review", "the page still waited, unchanged"


@pytest.mark.reliability
def test_approve_all_typed_in_a_waiting_thread_still_approves_everything(agent, tmp_path):
    agent.ask("t:all", "improve ABBR on trec6", user="alice")
    done = agent.ask("t:all", "Approve all.", user="alice")
    assert done.status in ("done", "no_gain"), done.text
