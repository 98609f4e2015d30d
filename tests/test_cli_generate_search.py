"""generate / samples / search through the real CLI (EDA and the fake OpenAI server keep these fast)."""

from __future__ import annotations

import json

import openai._base_client
import pytest

from autogets.cli import main
from autogets.generators.cache import GenerationCache
from autogets.workspace import Workspace
from tests.fakes.openai_server import fake_openai_server


def test_generate_eda_then_second_run_is_cached(workspace, capsys):
    args = ["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--workspace", str(workspace)]
    assert main([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["generated_now"] == 55 and first["from_cache"] == 0 and first["kept"] > 200
    assert main([*args, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["generated_now"] == 0 and second["from_cache"] == 55 and second["kept"] == first["kept"]
    assert main(["samples", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--workspace",
                 str(workspace), "--json", "--limit", "5"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5


def test_generate_openai_against_fake_server(workspace, capsys, monkeypatch):
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    with fake_openai_server() as server:
        monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("AUTOGETS_LLM_MODEL", "fake-model")
        monkeypatch.setenv("AUTOGETS_LLM_API_KEY", "sk-test-key")
        code = main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai", "--n", "2",
                     "--workspace", str(workspace)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(server.chat_requests) == 55
    assert "sk-test-key" not in captured.out + captured.err
    assert "ABBR: " in captured.out and "generated now for 55 examples" in captured.out


@pytest.mark.parametrize("behaviour, n", [("cap_n:4", 5), ("ignore_n", 3)])
def test_generate_openai_with_servers_that_cap_or_ignore_n(behaviour, n, workspace, capsys, monkeypatch):
    """llama.cpp (n capped at its slots, 400 above) and Ollama (n ignored) still give n texts per example."""
    with fake_openai_server(default=behaviour) as server:
        monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("AUTOGETS_LLM_MODEL", "fake-model")
        code = main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai", "--n", str(n),
                     "--workspace", str(workspace), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["generated_now"] == 55 and summary["failed_examples"] == 0
    assert GenerationCache(Workspace(workspace).db()).count("openai", "ABBR") == 55 * n
    assert sum(1 for r in server.chat_requests if r.body["n"] > 4) <= 1


def test_generate_reports_chatter_as_a_drop_reason(workspace, capsys, monkeypatch):
    """Every other request answers with a chat model's lead-in alone: dropped and counted as chatter."""
    def script(_body: dict, index: int) -> str:
        return "reply:Here is a different example that belongs to the same class:" if index % 2 else "ok"

    with fake_openai_server(script=script) as server:
        monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", server.base_url)
        code = main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai", "--n", "2",
                     "--workspace", str(workspace)])
    out = capsys.readouterr().out
    assert code == 0 and len(server.chat_requests) == 55
    assert "(dropped: chatter 54, duplicate " in out


def test_generate_openai_all_failing_is_one_line_error(workspace, capsys, monkeypatch):
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    with fake_openai_server(default="500") as server:
        monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", server.base_url)
        code = main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai",
                     "--workspace", str(workspace)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("autogets: error: all 55 examples failed")


def test_generate_openai_refused_shows_the_servers_message(workspace, capsys, monkeypatch):
    message = "Field 'n': Value must be between 1 <= value <= 4, but got 5"
    with fake_openai_server(default=f"400:{message}") as server:
        monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", server.base_url)
        code = main(["generate", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai",
                     "--workspace", str(workspace)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == ("autogets: error: all 55 examples failed to generate "
                       f"(first error: BadRequestError (400): {message})")


def test_unknown_class_is_one_line_error(workspace, capsys):
    assert main(["search", "--dataset", "trec6", "--class", "ABR", "--generator", "eda", "--workspace",
                 str(workspace)]) == 2
    assert "unknown class 'ABR'" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["sw", "hsw", "ga", "random"])
def test_search_each_strategy_writes_report_with_two_pngs(strategy, workspace, capsys):
    code = main(["search", "--dataset", "trec6", "--class", "ABBR", "--strategy", strategy, "--budget", "25",
                 "--generator", "eda", "--n", "3", "--workspace", str(workspace), "--executor", "serial"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Test split: best" in out and "ABBR" in out
    (folder,) = (workspace / "reports").glob("search-trec6-*")
    report = json.loads((folder / "report.json").read_text())
    assert report["strategy"] == strategy and report["budget_spent"]["evaluations"] == 25
    assert len(report["best_so_far"]) == 25 and report["best_so_far"] == sorted(report["best_so_far"])
    for png in ("best_so_far.png", "pca_map.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    assert set(report["test"]) == {"m0", "best", "gain"}
    t = report["test"]
    assert t["gain"] == pytest.approx(t["best"]["per_class"]["ABBR"]["cba"] - t["m0"]["per_class"]["ABBR"]["cba"])
