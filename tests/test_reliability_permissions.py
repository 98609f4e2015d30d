"""Permissions through the agent (issue 16): review, promote, roll back and resume only by the requester (for a model:
whoever registered it) or an approver of AUTOGETS_APPROVERS, given as user ids or as a Slack user-group id (its
members, resolved at bot start-up). Each refusal is a ``refused`` turn, changes nothing and is logged with the user
and the action."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.api import ListNotifier, ReviewDecision
from agent.context import AgentContext
from agent.service import Agent
from autogets.registry import Registry
from autogets.workspace import Workspace

pytestmark = pytest.mark.reliability

REQUESTER, OUTSIDER, APPROVER = "UREQUESTER", "UOUTSIDER", "UAPPROVER"


def _agent(ws: Path, approvers: frozenset[str] = frozenset({APPROVER})) -> Agent:
    return Agent(AgentContext(workspace=ws, generator="eda", budget=8, n_per_example=2, max_sources=20,
                              executor="serial", notifier=ListNotifier(), progress_interval=0.0, approvers=approvers))


def _versions(ws: Path, n: int, *, promote: int | None = None) -> Registry:
    """``n`` registered versions of trec6 by the requester; version ``promote`` (1-based) promoted in order."""
    registry = Registry(Workspace(ws))
    for i in range(n):
        registry.register({"weights": i}, dataset="trec6", recipe={}, metrics_validation={}, metrics_test={},
                          summary={"test_cba_gain": 0.01}, actor=REQUESTER)
    for i in range(1, (promote or 0) + 1):
        registry.promote(f"trec6-v{i}", actor=REQUESTER)
    return registry


def _refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "refused" and r.levelno == logging.WARNING]


@pytest.fixture
def review_turn(tmp_path):
    agent = _agent(tmp_path / "ws")
    turn = agent.ask("t:perm", "improve ABBR on trec6", user=REQUESTER)
    assert turn.status == "review"
    yield agent, turn
    agent.close()


def test_review_by_someone_else_is_refused_logged_and_changes_nothing(review_turn, caplog):
    agent, turn = review_turn
    with caplog.at_level(logging.WARNING):
        for action in ("approve_all", "reject_all", "cancel", "approve_page", "regenerate"):
            refused = agent.review(turn.thread_id, ReviewDecision(action=action, token=turn.review.token),
                                   user=OUTSIDER)
            assert refused.status == "refused" and "requester or an approver" in refused.text
        typed = agent.ask("t:perm", "cancel", user=OUTSIDER)   # typed in the thread: the same check
        assert typed.status == "refused"
    records = _refusals(caplog)
    assert len(records) == 6 and all(r.user == OUTSIDER and r.thread_id == turn.thread_id for r in records)
    assert [r.action for r in records] == ["approve_all", "reject_all", "cancel", "approve_page", "regenerate",
                                          "cancel"]
    ws = Workspace(agent.workspace)
    assert ws.db()["reviews"].count == 0
    still = agent.review(turn.thread_id, ReviewDecision(action="next_page", token=turn.review.token), user=REQUESTER)
    assert still.status == "review" and still.review.page == 2          # the page was still waiting


def test_review_by_an_approver_is_applied_in_their_name(review_turn):
    agent, turn = review_turn
    done = agent.review(turn.thread_id, ReviewDecision(action="approve_all", token=turn.review.token),
                        user=APPROVER)
    assert done.status in ("done", "no_gain")
    actors = Workspace(agent.workspace).db().execute("SELECT DISTINCT actor FROM reviews").fetchall()
    assert actors == [(APPROVER,)]


def test_promote_only_by_the_models_creator_or_an_approver(tmp_path, caplog):
    ws = tmp_path / "ws"
    registry = _versions(ws, 2)
    agent = _agent(ws)
    with caplog.at_level(logging.WARNING):
        refused = agent.ask("t:promote", "promote trec6-v1", user=OUTSIDER)
    assert refused.status == "refused" and registry.production("trec6") is None
    [record] = _refusals(caplog)
    assert record.name == "agent.permissions" and record.user == OUTSIDER and record.action == "promote trec6-v1"
    assert agent.ask("t:promote", "promote trec6-v1", user=REQUESTER).status == "answer"
    assert registry.production("trec6").id == "trec6-v1"
    assert agent.ask("t:promote", "promote trec6-v2", user=APPROVER).status == "answer"
    assert registry.production("trec6").id == "trec6-v2"
    assert [(e["action"], e["actor"]) for e in registry.events() if e["action"] == "promote"] == [
        ("promote", REQUESTER), ("promote", APPROVER)]
    agent.close()


def test_rollback_only_by_the_creator_of_the_production_model_or_an_approver(tmp_path, caplog):
    ws = tmp_path / "ws"
    registry = _versions(ws, 2, promote=2)
    agent = _agent(ws)
    with caplog.at_level(logging.WARNING):
        refused = agent.ask("t:rollback", "rollback trec6", user=OUTSIDER)
    assert refused.status == "refused" and registry.production("trec6").id == "trec6-v2"
    [record] = _refusals(caplog)
    assert record.user == OUTSIDER and record.action == "roll back trec6"
    back = agent.ask("t:rollback", "rollback trec6", user=APPROVER)
    assert back.status == "answer" and registry.production("trec6").id == "trec6-v1"
    assert registry.events()[-1]["action"] == "rollback" and registry.events()[-1]["actor"] == APPROVER
    agent.close()


def test_second_approval_of_a_promotion_is_never_the_requester(tmp_path, caplog):
    ws = tmp_path / "ws"
    registry = _versions(ws, 1)
    agent = Agent(AgentContext(workspace=ws, generator="eda", executor="serial", approvers=frozenset({APPROVER}),
                               promote_approval=True, notifier=ListNotifier()))
    ask = agent.ask("t:second", "promote trec6-v1", user=REQUESTER)
    assert ask.status == "awaiting_promotion"
    with caplog.at_level(logging.WARNING):
        for user in (REQUESTER, OUTSIDER):
            assert agent.review(ask.thread_id, ReviewDecision(action="approve_all"), user=user).status == "refused"
    assert [r.user for r in _refusals(caplog)] == [REQUESTER, OUTSIDER] and registry.production("trec6") is None
    approved = agent.review(ask.thread_id, ReviewDecision(action="approve_all"), user=APPROVER)
    assert "approved by UAPPROVER" in approved.text and registry.production("trec6").id == "trec6-v1"
    agent.close()


def test_resuming_a_stopped_run_is_the_requesters_or_an_approvers(tmp_path, monkeypatch, caplog):
    from autogets import steps
    from autogets.errors import GenerationStopped

    agent = _agent(tmp_path / "ws")
    real = steps.generate_step
    monkeypatch.setattr(steps, "generate_step", lambda *a, **k: (_ for _ in ()).throw(GenerationStopped("down")))
    stopped = agent.ask("t:resume", "improve ABBR on trec6", user=REQUESTER)
    assert stopped.status == "running" and "Say resume" in stopped.text
    monkeypatch.setattr(steps, "generate_step", real)
    with caplog.at_level(logging.WARNING):
        assert agent.ask("t:resume", "resume", user=OUTSIDER).status == "refused"
    assert [(r.user, r.action) for r in _refusals(caplog)] == [(OUTSIDER, "resume")]
    assert agent.ask("t:resume", "resume", user=APPROVER).status == "review"
    agent.close()


def test_a_user_group_in_approvers_lets_its_members_act_through_the_bots_agent(tmp_path, monkeypatch, caplog):
    """AUTOGETS_APPROVERS=S… : the bot resolves the group's members (usergroups.users.list) at start-up and the agent
    it builds accepts them; a user outside the group is refused, and a group that cannot be listed stops start-up."""
    from autogets.errors import ConfigError
    from bot.app import build_agent
    from bot.run import prepare
    from bot.settings import BotSettings
    from tests.fakes.slack_server import fake_slack

    ws = tmp_path / "ws"
    _versions(ws, 2, promote=2)
    env = {"SLACK_BOT_TOKEN": "xoxb-1-perm-test", "SLACK_APP_TOKEN": "xapp-1-perm-test", "AUTOGETS_HOME": str(ws),
           "AUTOGETS_APPROVERS": "SREVIEWERS,UDIRECT", "AUTOGETS_GENERATOR": "eda", "AUTOGETS_BUDGET": "8",
           "AUTOGETS_EXECUTOR": "serial"}
    for name in ("AUTOGETS_CONFIG", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_PROMOTE_APPROVAL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with fake_slack(usergroups={"SREVIEWERS": ["UMEMBER1", "UMEMBER2"]}) as slack:
        settings, client = prepare(BotSettings.from_env({**env, "SLACK_API_URL": slack.api_url}))
        assert settings.approvers == {"UMEMBER1", "UMEMBER2", "UDIRECT"}
        agent = build_agent(settings, client)
        assert agent.ctx.approvers == settings.approvers
        with caplog.at_level(logging.WARNING):
            assert agent.ask("t:group", "rollback trec6", user=OUTSIDER).status == "refused"
        assert [r.user for r in _refusals(caplog)] == [OUTSIDER]
        assert agent.ask("t:group", "rollback trec6", user="UMEMBER2").status == "answer"
        assert Registry(Workspace(ws)).production("trec6").id == "trec6-v1"
        assert agent.ask("t:group", "promote trec6-v2", user="UMEMBER1").status == "answer"
        turn = agent.ask("t:group-run", "improve ABBR on trec6", user=REQUESTER)
        assert agent.review(turn.thread_id, ReviewDecision(action="next_page"), user="UMEMBER1").status == "review"
        assert agent.review(turn.thread_id, ReviewDecision(action="next_page"), user="SREVIEWERS").status == \
            "refused"   # the group's id is not a user
        agent.close()
        with pytest.raises(ConfigError, match="cannot list the members of user group SNOSUCH"):
            prepare(BotSettings.from_env({**env, "AUTOGETS_APPROVERS": "SNOSUCH", "SLACK_API_URL": slack.api_url}))
