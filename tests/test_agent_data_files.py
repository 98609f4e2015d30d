"""Which data files a chat user may make the agent read (issue 22 item 13): only files inside the folders listed in
``AUTOGETS_DATA_DIRS`` (none by default: the bundled data sets only), never a file inside the workspace, with
symlinks and ``..`` resolved before the check; one function decides, for every path that opens a data file on a
chat user's behalf. The CLI (``autogets improve --data FILE``, an operator's command) is not restricted."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent import nodes
from agent.api import ListNotifier
from agent.context import AgentContext
from agent.service import Agent
from autogets.cli import main

pytestmark = pytest.mark.reliability


def write_data(path: Path, per_class: int = 20) -> Path:
    rows = [f"ticket about {c} number {i} {c}words here,{c}" for c in ("refund", "spam", "delay")
            for i in range(per_class)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def make_agent(ws: Path, **overrides) -> Agent:
    params = {"workspace": ws, "generator": "eda", "budget": 8, "n_per_example": 2, "max_sources": 20,
              "executor": "serial", "notifier": ListNotifier(), "progress_interval": 0.0, **overrides}
    return Agent(AgentContext(**params))


def diagnosed(turn) -> bool:
    return "M0 test accuracy" in turn.text


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """The Docker image's layout: the bot's working directory is the workspace; a data folder beside it."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    leak = write_data(ws / "reports" / "leak.csv")           # anything under the workspace
    data = tmp_path / "data"
    tickets = write_data(data / "tickets.csv")
    outside = write_data(tmp_path / "elsewhere" / "secret.csv")
    return SimpleNamespace(root=tmp_path, ws=ws, leak=leak, data=data, tickets=tickets, outside=outside)


def test_by_default_a_chat_user_reads_no_data_file_not_even_in_the_working_directory(layout):
    agent = make_agent(layout.ws)
    try:
        for text in ("diagnose reports/leak.csv", "diagnose ./reports/leak.csv", f"diagnose {layout.leak}",
                     "improve refund on reports/leak.csv", f"diagnose {layout.tickets}"):
            turn = agent.ask(f"t:{text}", text, user="mallory")
            assert turn.status == "answer" and turn.run_id is None and not diagnosed(turn), (text, turn.text)
            assert "AUTOGETS_DATA_DIRS" in turn.text and str(layout.root) not in turn.text
        assert diagnosed(agent.ask("t:bundled", "diagnose trec6", user="mallory"))   # the bundled data sets work
    finally:
        agent.close()


def test_a_listed_folder_is_readable_and_the_workspace_never_even_when_listed(layout):
    agent = make_agent(layout.ws, data_dirs=(layout.data, layout.ws, layout.root))
    try:
        assert diagnosed(agent.ask("t:ok", "diagnose tickets.csv", user="alice"))
        assert diagnosed(agent.ask("t:abs", f"diagnose {layout.tickets}", user="alice"))
        for text in ("diagnose reports/leak.csv", f"diagnose {layout.leak}", "diagnose ws/reports/leak.csv",
                     "diagnose data/../ws/reports/leak.csv"):
            turn = agent.ask(f"t:{text}", text, user="alice")
            assert not diagnosed(turn) and "workspace" in turn.text, (text, turn.text)
    finally:
        agent.close()


def test_symlinks_and_dot_dot_are_resolved_before_the_check(layout):
    (layout.data / "into-ws.csv").symlink_to(layout.leak)
    (layout.data / "out.csv").symlink_to(layout.outside)
    (layout.data / "sub").symlink_to(layout.outside.parent, target_is_directory=True)
    agent = make_agent(layout.ws, data_dirs=(layout.data,))
    try:
        for text, words in (("diagnose into-ws.csv", "workspace"), ("diagnose out.csv", "outside"),
                            ("diagnose sub/secret.csv", "outside"), ("diagnose ../elsewhere/secret.csv", "outside"),
                            (f"diagnose {layout.outside}", "outside"),
                            ("diagnose ../ws/reports/leak.csv", "workspace")):
            turn = agent.ask(f"t:{text}", text, user="alice")
            assert not diagnosed(turn) and words in turn.text, (text, turn.text)
            assert str(layout.root) not in turn.text
    finally:
        agent.close()


def test_the_variable_lists_folders_separated_by_the_path_separator(tmp_path):
    from autogets.config import Settings

    env = {"AUTOGETS_DATA_DIRS": f"{tmp_path / 'a'}{os.pathsep}{os.pathsep} {tmp_path / 'b'} "}
    ctx = AgentContext.from_settings(Settings(workspace=tmp_path / "ws"), env=env)
    assert ctx.data_dirs == (tmp_path / "a", tmp_path / "b")
    assert AgentContext.from_settings(Settings(workspace=tmp_path / "ws"), env={}).data_dirs == ()


def test_every_node_that_opens_a_data_file_asks_the_same_rule(layout):
    """A request whose data_path did not come from the parser (a forged or old checkpoint, a LangGraph server's
    state) is refused by the start node and by diagnose too."""
    ctx = AgentContext(workspace=layout.ws, generator="eda", executor="serial", data_dirs=(layout.data,))
    runtime = SimpleNamespace(context=ctx)
    state = {"request": {"data_path": str(layout.leak), "target": "refund"}, "user": "mallory", "command": "x",
             "conversation": "t:forged", "text": "x"}
    out = nodes.start(state, runtime)
    assert out["status"] == "answer" and "Not started" in out["message"] and "run_id" not in out
    assert not (layout.ws / "autogets.db").exists()
    said = nodes.answer({**state, "intent": "diagnose"}, runtime)
    assert "workspace" in said["message"] and "M0 test accuracy" not in said["message"]
    allowed = nodes.answer({**state, "intent": "diagnose", "request": {"data_path": str(layout.tickets)}}, runtime)
    assert "M0 test accuracy" in allowed["message"]


def test_the_cli_is_not_restricted(layout, capsys):
    """An operator's `autogets diagnose --data FILE` reads any file (no AUTOGETS_DATA_DIRS)."""
    assert main(["diagnose", "--data", str(layout.outside), "--workspace", str(layout.root / "ws2")]) == 0
