"""The agent under ``langgraph dev`` (issue 24 item 2): ``langgraph.json`` names :func:`agent.studio.make_graph`; a real
in-memory LangGraph server on 127.0.0.1 runs the agent through its REST API, and the graph's own permission check
refuses a decision that names another user.

The server tests need the ``studio`` extra (``pip install 'autogets[studio]'``: langgraph-cli with langgraph-api) and
are skipped, saying so, without it. Telemetry is off (``LANGGRAPH_CLI_NO_ANALYTICS``, no LangSmith key, tracing
off) and the server's HTTP(S) proxy is a closed local port, so nothing it tried to send beyond loopback would leave.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.state import fresh

ROOT = Path(__file__).resolve().parents[1]
REQUEST = "improve ABBR on trec6 generator eda budget 20"  # agent/requests.py's grammar


# --- the factory, without a server --------------------------------------------------------------------------------

def test_langgraph_json_points_at_the_factory_and_it_builds_the_agents_graph():
    from agent.graph import build_graph
    from agent.studio import StudioContext, make_graph

    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert config["graphs"] == {"autogets": "./agent/studio.py:make_graph"}
    assert config["dependencies"] == ["."]
    path, _, name = config["graphs"]["autogets"].partition(":")
    assert (ROOT / path).is_file() and name == "make_graph"
    graph = make_graph()  # opens nothing: the context is built at the first node
    assert graph.checkpointer is None  # the server puts its own on the graph
    assert graph.context_schema is StudioContext
    assert set(graph.get_graph().nodes) == set(build_graph().get_graph().nodes)
    assert set(graph.get_context_jsonschema()["properties"]) == {"budget"}
    # the schemas the server shows (Studio's input form): pydantic needs typing_extensions' TypedDict on 3.11
    assert {"text", "user", "conversation"} <= set(graph.get_input_jsonschema()["properties"])
    assert "run_id" in graph.get_output_jsonschema()["properties"]


def test_a_runs_context_sets_only_the_safe_fields(tmp_path):
    from agent.context import AgentContext
    from agent.studio import run_context
    from autogets.errors import ConfigError

    base = AgentContext(workspace=tmp_path / "ws", approvers=frozenset({"carol"}), budget=200, classifier="linear")
    ctx = run_context(base, {"budget": "20", "page_size": 3, "approvers": ["mallory"], "promote_approval": False,
                             "workspace": "/", "data_dirs": ["/etc"], "llm": {"base_url": "http://x"},
                             "thread_id": "t"})
    assert (ctx.budget, ctx.page_size) == (20, base.page_size)
    assert ctx.approvers == {"carol"} and ctx.workspace == base.workspace and ctx.data_dirs == ()
    assert ctx.llm == base.llm and ctx.ws is base.ws
    assert run_context(base, {}) is base and run_context(base, None) is base
    for bad in ({"budget": 0}, {"budget": 10**9}, {"budget": "lots"}, {"budget": True}, {"budget": -3}):
        with pytest.raises(ConfigError):
            run_context(base, bad)


def test_a_request_typed_in_studio_starts_afresh_and_names_who_asks(tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.context import AgentContext
    from agent.studio import studio_graph

    ctx = AgentContext(workspace=tmp_path / "ws", classifier="linear")
    graph = studio_graph(lambda: ctx, InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    # what Studio's input form sends: only the typed fields; the thread still holds an earlier request's run id
    graph.update_state(config, {"run_id": "20261201-000000-dead", "status": "done", "model_id": "trec6-v9"})
    out = graph.invoke({"text": "help", "user": "alice"}, config, context={"budget": 20})
    assert out["status"] == "answer" and "improve" in out["message"]
    assert out["run_id"] is None and out["model_id"] is None and out["conversation"] == "studio"
    out = graph.invoke({"text": "help"}, {"configurable": {"thread_id": "u"}})
    assert out["status"] == "answer" and '"user"' in out["message"] and out["intent"] == "clarify"
    ctx.ws.close()


# --- a real `langgraph dev` ---------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("langgraph_api", reason="the studio extra is not installed: pip install 'autogets[studio]'")
    pytest.importorskip("langgraph_sdk", reason="the studio extra is not installed: pip install 'autogets[studio]'")
    cli = Path(sys.executable).parent / "langgraph"
    if not cli.exists():
        cli = Path(shutil.which("langgraph") or "langgraph")
        if not cli.exists():
            pytest.skip("no langgraph command: pip install 'autogets[studio]'")
    home = tmp_path_factory.mktemp("studio")
    # the repository's langgraph.json with its paths made absolute, so the server's files (.langgraph_api/) and the
    # workspace stay in the temp folder
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {gid: f"{ROOT / spec.partition(':')[0]}:{spec.partition(':')[2]}"
                        for gid, spec in config["graphs"].items()}
    (home / "langgraph.json").write_text(json.dumps(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTOGETS_", "LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_")) and "proxy" not in k.lower()}
    env.update(LANGGRAPH_CLI_NO_ANALYTICS="1", LANGSMITH_TRACING="false", LANGCHAIN_TRACING_V2="false",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="127.0.0.1,localhost",
               PYTHONPATH=str(ROOT), AUTOGETS_HOME=str(home / "ws"), AUTOGETS_CLASSIFIER="linear",
               AUTOGETS_GENERATOR="eda", AUTOGETS_EXECUTOR="serial")
    port = _free_port()
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(cli), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
                                 "--port", str(port), "--config", str(home / "langgraph.json")],
                                cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"langgraph dev did not start (exit {proc.poll()}):\n"
                            + log.read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield {"url": url, "workspace": home / "ws", "log": log}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _client(server):
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=server["url"], api_key=None, timeout=600)  # api_key None: never one from the env


def _to_review_page(server, client, conversation: str, request: str = REQUEST, context: dict | None = None
                    ) -> tuple[str, dict]:
    """A new thread whose improve run waits at its first review page: (thread id, the page)."""
    thread = client.threads.create(metadata={"conversation": conversation})["thread_id"]
    out = client.runs.wait(thread, "autogets", input=fresh(request, "alice", conversation), context=context)
    state = client.threads.get_state(thread)
    assert state["next"] == ["review"], (out, _tail(server))
    [waiting] = state["interrupts"]
    page = waiting["value"]
    assert page["kind"] == "review" and page["requester"] == "alice" and page["samples"]
    assert state["values"]["run_id"] == page["run_id"]
    return thread, page


def _tail(server) -> str:
    return server["log"].read_text(errors="replace")[-3000:]


def _run(server, run_id: str) -> dict:
    with sqlite3.connect(server["workspace"] / "autogets.db") as db:
        status, params = db.execute("SELECT status, params FROM runs WHERE id = ?", [run_id]).fetchone()
    return {"status": status, "params": json.loads(params)}


def _decisions(server, run_id: str) -> int:
    with sqlite3.connect(server["workspace"] / "autogets.db") as db:
        return db.execute("SELECT COUNT(*) FROM reviews WHERE run_id = ?", [run_id]).fetchone()[0]


def test_langgraph_dev_serves_the_agent_and_refuses_a_decision_naming_another_user(server):
    from autogets import leases
    from autogets.workspace import Workspace

    client = _client(server)
    assert [a["graph_id"] for a in client.assistants.search()] == ["autogets"]
    thread = client.threads.create()["thread_id"]
    out = client.runs.wait(thread, "autogets", input=fresh("help", "alice", "studio-help"))
    assert out["status"] == "answer" and "improve" in out["message"], (out, _tail(server))

    # a run's context may set the default budget, never who may approve
    thread, page = _to_review_page(server, client, "studio-refused", REQUEST.replace(" budget 20", ""),
                                   context={"budget": 20, "approvers": ["mallory"]})
    run_id = page["run_id"]
    assert _run(server, run_id)["params"]["budget"] == 20
    # a run waiting for a person holds no claim on its data set (as under agent.service)
    assert leases.run_holder(Workspace(server["workspace"]), run_id) is None
    client.runs.wait(thread, "autogets", command={"resume": {"action": "approve_all", "user": "mallory"}},
                     context={"approvers": ["mallory"]})
    state = client.threads.get_state(thread)
    assert state["next"] == ["review"] and len(state["interrupts"]) == 1  # the page still waits
    assert state["interrupts"][0]["value"]["samples"] == page["samples"]
    assert "Only the requester or an approver" in state["values"]["message"]
    assert state["values"]["status"] == "running" and _decisions(server, run_id) == 0  # nothing approved


@pytest.mark.slow  # the search and report after the approval: ~40–80 s on 2 busy cores
def test_langgraph_dev_runs_an_improve_to_the_end_when_the_requester_approves(server):
    client = _client(server)
    thread, page = _to_review_page(server, client, "studio-approved")
    client.runs.wait(thread, "autogets", command={"resume": {"action": "approve_all", "user": "mallory"}})
    assert client.threads.get_state(thread)["next"] == ["review"]
    out = client.runs.wait(thread, "autogets", command={"resume": {"action": "approve_all", "user": "alice"}})
    state = client.threads.get_state(thread)
    assert state["next"] == [] and not state["interrupts"], _tail(server)
    values = state["values"]
    assert values["status"] in ("done", "no_gain"), (out, _tail(server))
    assert values["run_id"] == page["run_id"] and "ABBR" in values["message"]
    assert _decisions(server, page["run_id"]) >= len(page["samples"])
    assert _run(server, values["run_id"])["status"] == values["status"]
    if values["status"] == "done":
        assert values["model_id"] and values["model_id"].startswith("trec6-v")
    thread_row = client.threads.get(thread)
    assert thread_row["status"] == "idle"
