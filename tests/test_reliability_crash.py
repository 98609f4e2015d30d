"""Crash and resume with real processes (issue 16): ``kill -9`` of the agent during generation, and between "model
saved" and "registry row written" (and inside the registry's write), then a new process resumes the thread.

Nothing is lost: generations stored before the kill are reused (the model is called only for the missing source
examples, counted at the fake server), the registry never holds a half-written or duplicate version, and no file
with a version's name is left without its row. (Kill during search: tests/test_agent.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest

from agent.service import Agent
from autogets import steps
from autogets.registry import Registry
from autogets.workspace import Workspace
from tests.agent_driver import call
from tests.fakes.openai_server import fake_openai_server, last_user_message

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SOURCES = 20   # the driver generates for 20 ABBR examples, 2 texts each


def paraphrase(body: dict, _index: int) -> str:
    """A fake LLM that answers with a new text made from the example in the prompt (kept by the cleaner)."""
    lines = last_user_message(body).splitlines()
    example = lines[2] if len(lines) > 2 else "something"
    return "reply:In short , " + example.rstrip(" ?") + " exactly ?"


def _stored(ws: Path) -> tuple[int, int]:
    db = Workspace(ws).db()
    rows = db["generations"].count
    examples = db.execute("SELECT count(DISTINCT source_hash) FROM generations").fetchone()[0]
    return rows, examples


def test_killed_during_generation_resumes_calling_the_model_only_for_the_missing_examples(tmp_path):
    ws = tmp_path / "ws"
    with fake_openai_server(script=paraphrase) as server:
        env = {"AGENT_DRIVER_GENERATOR": "openai", "AUTOGETS_LLM_BASE_URL": server.base_url,
               "AUTOGETS_LLM_MODEL": "fake-model"}
        call("ask", str(ws), "t:gen", "improve ABBR on trec6", env={**env, "AGENT_DRIVER_KILL": "generations:10"},
             killed=True)
        rows, examples = _stored(ws)
        assert 10 <= rows < 2 * SOURCES and rows == 2 * examples  # each example's texts stored whole, at once
        before = {r[0]: r[1] for r in Workspace(ws).db().execute("SELECT source_hash || sample_index, raw "
                                                                  "FROM generations").fetchall()}
        asked_before = len(server.chat_requests)

        turn = call("resume", str(ws), Agent.thread_for("t:gen"), env=env)

        assert turn["status"] == "review"
        asked_now = server.chat_requests[asked_before:]
        assert len(asked_now) == SOURCES - examples   # one request per missing example (n=2 in one request)
        gen = steps.step_result(Workspace(ws), turn["run_id"], "generate:0")
        assert gen["from_cache"] == examples and gen["generated_now"] == SOURCES - examples
        after = {r[0]: r[1] for r in Workspace(ws).db().execute("SELECT source_hash || sample_index, raw "
                                                                 "FROM generations").fetchall()}
        assert len(after) == 2 * SOURCES and all(after[k] == v for k, v in before.items())  # kept, not redone
        assert turn["review"]["totals"]["kept"] > 0
        assert steps.run_row(Workspace(ws), turn["run_id"])["status"] == "running"


def _model_files(ws: Path) -> list[str]:
    folder = ws / "models" / "trec6"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_killed_between_model_saved_and_registry_row_then_inside_the_registry_write_registers_once(tmp_path):
    ws = tmp_path / "ws"
    env = {"AGENT_DRIVER_BUDGET": "8", "AGENT_DRIVER_KEEP_ALL": "1"}
    first = call("ask", str(ws), "t:reg", "improve ABBR on trec6", env=env)
    thread, run_id = first["thread_id"], first["run_id"]

    # 1. killed when the register step starts: the report and its model file are written, no version yet
    call("review", str(ws), thread, "approve_all", env={**env, "AGENT_DRIVER_KILL": "register-step"}, killed=True)
    report = steps.step_result(Workspace(ws), run_id, "report")
    assert report["changed"] and Path(report["model_file"]).is_file()
    assert Registry(Workspace(ws)).list() == [] and _model_files(ws) == []

    # 2. killed inside Registry.register once the model's temporary file is written
    call("resume", str(ws), thread, env={**env, "AGENT_DRIVER_KILL": "registry-temp"}, killed=True)
    assert Registry(Workspace(ws)).list() == []
    temps = _model_files(ws)
    assert len(temps) == 1 and temps[0].startswith(".new-") and temps[0].endswith(".joblib.tmp")

    # 3. killed inside the registry's write transaction, after the rename to trec6-v1.joblib, before the commit
    call("resume", str(ws), thread, env={**env, "AGENT_DRIVER_KILL": "registry-rename"}, killed=True)
    assert Registry(Workspace(ws)).list() == []                       # the row was rolled back
    left = _model_files(ws)
    assert "trec6-v1.joblib" in left and any(n.startswith(".pending-") for n in left)

    # 4. a new process resumes: exactly one version, loadable, its row and the run consistent, no stray file
    done = call("resume", str(ws), thread, env=env)
    assert done["status"] == "done" and done["report"]["model_id"] == "trec6-v1"
    registry = Registry(Workspace(ws))
    versions = registry.list()
    assert [v.id for v in versions] == ["trec6-v1"] and versions[0].summary["run_id"] == run_id
    model = registry.load("trec6-v1")
    assert list(model.predict(["What does NASA stand for ?"]))
    assert joblib.load(report["model_file"]).predict(["What does NASA stand for ?"]).tolist() == \
        model.predict(["What does NASA stand for ?"]).tolist()
    files = [n for n in _model_files(ws) if not n.startswith(".new-")]   # the temp file of step 2 may stay an hour
    assert files == [Path(versions[0].artifact).name] == ["trec6-v1.joblib"]
    assert [e["action"] for e in registry.events()] == ["register"]
    row = steps.run_row(Workspace(ws), run_id)
    assert row["status"] == "done" and json.loads(row["result"])["model_id"] == "trec6-v1"
    assert json.loads((Path(report["report_dir"]) / "report.json").read_text())["model_id"] == "trec6-v1"

    # and resuming again changes nothing
    again = call("resume", str(ws), thread, env=env)
    assert again["status"] == "done" and [v.id for v in Registry(Workspace(ws)).list()] == ["trec6-v1"]
