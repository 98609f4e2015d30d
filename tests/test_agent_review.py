"""Review pages and replies typed in a waiting thread (issue 22 items 8 and 10): real graph, real SqliteSaver, EDA
generator on TREC-6 ABBR."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent
from autogets.workspace import Workspace
from tests.crash import Killed, killed_at


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
    assert [s.number for s in turn.review.samples] == list(range(4, len(pages[1]) + 1)), \
        "a number keeps meaning the same sample: the page's others keep theirs"
    assert turn.review.page_samples == len(pages[1])
    totals = turn.review.totals
    assert (totals["round_rejected"], totals["round_pending"]) == (3, totals["round_samples"] - len(pages[0]) - 3)

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
def test_a_page_still_takes_decisions_after_a_reject(agent, tmp_path):
    """Reproduced for "the page count reads oddly after rejects": after "r 1 3" the page waited again, but every
    later decision on it was refused ("That decision names samples other than the page's; nothing was applied"):
    the node still held the keys of the whole page. Rejecting what is left of a page moves on to the next page."""
    turn = agent.ask("t:reject", "improve ABBR on trec6", user="alice")
    pages = round_pages(tmp_path / "ws", turn.run_id)
    first = turn.review.samples
    turn = agent.review(turn.thread_id, ReviewDecision(action="reject", ids=(first[0].key, first[2].key),
                                                       token=turn.review.token), user="alice")
    assert [s.number for s in turn.review.samples] == [2] + list(range(4, len(pages[0]) + 1))
    turn = agent.review(turn.thread_id, ReviewDecision(action="reject", ids=(turn.review.samples[0].key,),
                                                       token=turn.review.token), user="alice")
    assert "nothing was applied" not in turn.text and len(turn.review.samples) == len(pages[0]) - 3
    turn = agent.review(turn.thread_id, ReviewDecision(action="reject", ids=tuple(shown(turn)),
                                                       token=turn.review.token), user="alice")
    assert turn.review.page == 2 and shown(turn) == pages[1], "the whole page decided: the next one"
    turn = agent.review(turn.thread_id, ReviewDecision(action="approve_page", ids=(pages[1][0],),
                                                       token=turn.review.token), user="alice")
    assert turn.review.page == 3 and turn.review.totals["round_approved"] == len(pages[1]) - 1


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


@pytest.mark.reliability
def test_a_regeneration_killed_before_its_result_was_saved_keeps_its_round_on_resume(agent, tmp_path, monkeypatch):
    """Item 12: a kill between storing the regenerated round's samples and saving the step's result discarded the
    new round on resume (the re-run set aside every undecided sample, the new round's too)."""
    from autogets import steps
    from autogets.config import Settings
    from autogets.generators import make_generator

    turn = agent.ask("t:regen-kill", "improve ABBR on trec6", user="alice")
    ws, run_id = Workspace(tmp_path / "ws"), turn.run_id
    gen = make_generator("eda", Settings(workspace=tmp_path / "ws", seed=42), dataset="trec6")
    real = steps.put_step

    def killed(ws_, run, step, data):
        if step == "generate:1":
            raise Killed
        return real(ws_, run, step, data)

    monkeypatch.setattr(steps, "put_step", killed)
    with pytest.raises(Killed):
        steps.generate_step(ws, run_id, gen, round=1, hint="shorter")
    monkeypatch.setattr(steps, "put_step", real)
    steps.generate_step(ws, run_id, gen, round=1, hint="shorter")      # the resumed step
    page = steps.review_page(ws, run_id, 1, 10)
    assert page["round"] == 1 and page["samples"], "the regenerated round waits for review"
    assert page["totals"]["pending"] == steps.pending_count(ws, run_id) > 0
    undecided_round_0 = ws.db().execute(
        "SELECT count(*) FROM run_samples s LEFT JOIN reviews r ON r.run_id = s.run_id AND r.key = s.key "
        "WHERE s.run_id = ? AND s.round = 0 AND r.decision IS NULL", [run_id]).fetchone()[0]
    assert undecided_round_0 == 0, "round 0's undecided samples are set aside"


@pytest.mark.reliability
def test_a_promotion_killed_after_it_was_applied_finishes_on_resume(tmp_path):
    """Item 12: the promotion node re-run after a crash (the version already promoted, no checkpoint) raised
    "already in production" and the thread was stuck; now it finishes, promoting once."""
    from sklearn.dummy import DummyClassifier

    from autogets.registry import Registry

    notifier = ListNotifier()
    a = make_agent(tmp_path / "ws", approvers=frozenset({"carol"}), promote_approval=True, notifier=notifier)
    registry = Registry(Workspace(tmp_path / "ws"))
    model_id = registry.register(DummyClassifier().fit(["a", "b"], ["ABBR", "NUM"]), dataset="trec6", recipe={},
                                 metrics_validation={}, metrics_test={}, actor="alice").id
    ask = a.ask("t:promo-kill", f"promote {model_id}", user="alice")
    assert ask.status == "awaiting_promotion"
    with killed_at(notifier, "promoted"), pytest.raises(Killed):
        a.review(ask.thread_id, ReviewDecision(action="approve_all"), user="carol")
    assert registry.production("trec6").id == model_id        # applied before the kill
    again = a.resume(ask.thread_id)          # the page still waits (the node had no checkpoint): decided again
    assert again.status == "awaiting_promotion", again.text
    done = a.review(ask.thread_id, ReviewDecision(action="approve_all"), user="carol")
    assert done.status == "answer" and f"{model_id} is now in production" in done.text, done.text
    assert [e["action"] for e in registry.events()].count("promote") == 1
    a.close()


def keys_decided(ws: Path, run_id: str, decision: str) -> set[str]:
    return {r[0] for r in Workspace(ws).db().execute(
        "SELECT key FROM reviews WHERE run_id = ? AND decision = ?", [run_id, decision]).fetchall()}


def test_a_decision_applies_to_the_samples_shown_not_a_page_recomputed_on_resume(tmp_path):
    """Item 9: the review node recomputed its page on resume and applied the decision to that page's keys. A
    process with another page size resuming the thread approved samples nobody saw. The decision now names the
    keys that were shown, and the team is told about a page once, not on every resume."""
    notifier = ListNotifier()
    a = make_agent(tmp_path / "ws", page_size=10, notifier=notifier)
    turn = a.ask("t:keys", "improve ABBR on trec6", user="alice")
    assert turn.status == "review", turn.text
    seen = shown(turn)
    a.close()
    b = make_agent(tmp_path / "ws", page_size=4, notifier=notifier)   # restarted with another page size
    after = b.review(turn.thread_id, ReviewDecision(action="approve_page", token=turn.review.token), user="alice")
    assert keys_decided(tmp_path / "ws", turn.run_id, "approved") == set(seen), after.text
    needed = [p["page"] for kind, p in notifier.sent if kind == "review_needed"]
    assert needed[0] == 1 and len(needed) == 2, needed     # page 1 once (not again on resume), then the next page
    b.close()


def test_the_review_node_checks_who_decides_whatever_front_end_resumes_it(agent, tmp_path):
    """Structure: a front-end that resumes the graph itself (a LangGraph server, ``Command(resume=…)``) got its
    decision applied for any user; the node now checks the decision's user against the one policy."""
    from langgraph.types import Command

    turn = agent.ask("t:node-policy", "improve ABBR on trec6", user="alice")
    pending = set(round_pages(tmp_path / "ws", turn.run_id)[0])
    config = {"configurable": {"thread_id": turn.thread_id}}
    agent.graph.invoke(Command(resume={"action": "approve_all", "user": "mallory"}), config, context=agent.ctx)
    assert keys_decided(tmp_path / "ws", turn.run_id, "approved") == set()
    again = agent.resume(turn.thread_id)
    assert again.status == "review" and "Only the requester or an approver" in again.text, again.text
    assert set(shown(again)) == pending
