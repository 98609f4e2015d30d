"""The OpenAI-compatible generator against a fake server on 127.0.0.1, with the real ChatOpenAI client."""

from __future__ import annotations

import openai._base_client
import pytest

from autogets.errors import GenerationError
from autogets.generators.base import SourceExample
from autogets.generators.cache import GenerationCache, synthesize
from autogets.generators.openai_compat import OpenAICompatibleGenerator
from autogets.workspace import Workspace
from tests.fakes.openai_server import directive_script, fake_openai_server

pytestmark = pytest.mark.reliability  # issue 16: an LLM that errors, times out or answers garbage

EXAMPLES = [SourceExample(id=i, text=f"What does ABC{i} stand for ?", label="ABBR") for i in range(3)]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.delenv("LANGSMITH_TRACING", raising=False)
    monkeypatch.delenv("LANGCHAIN_TRACING_V2", raising=False)


def gen(server, **kw) -> OpenAICompatibleGenerator:
    params = {"base_url": server.base_url, "model": "fake-model", "api_key": "sk-test", "timeout": 0.5,
              "max_retries": 2, "concurrency": 2}
    return OpenAICompatibleGenerator(**{**params, **kw})


def run(g, examples=EXAMPLES, n=2):
    return {o.example.id: o for o in g.generate(examples, n, class_name="ABBR")}


def test_success_with_n_choices_and_request_shape():
    with fake_openai_server() as server:
        outs = run(gen(server), n=3)
    assert all(len(o.texts) == 3 and o.error is None for o in outs.values())
    assert outs[1].texts[2].startswith("ECHO2:")
    assert "WHAT DOES ABC1 STAND FOR ?" in outs[1].texts[0]  # the prompt carried the source example
    body = server.chat_requests[0].body
    assert body["model"] == "fake-model" and body["n"] == 3 and body["temperature"] == 0.9
    assert server.chat_requests[0].authorization == "Bearer sk-test"
    assert server.max_in_flight <= 2


def test_rate_limit_then_success_is_retried():
    with fake_openai_server(script=["429:0.05", "ok", "ok", "ok"]) as server:
        outs = run(gen(server, concurrency=1))
    assert all(o.error is None for o in outs.values())
    assert server.count == 4


def test_timeout_is_recorded_per_example_not_fatal():
    with fake_openai_server(script=directive_script()) as server:
        examples = [SourceExample(id=0, text="@sleep=5 slow one", label="ABBR"), *EXAMPLES[1:]]
        outs = run(gen(server, max_retries=0), examples)
    assert "Timeout" in outs[0].error
    assert outs[1].error is None and outs[2].error is None


def test_garbage_json_and_5xx_are_failures_not_crashes():
    with fake_openai_server(script=directive_script()) as server:
        examples = [SourceExample(id=0, text="@garbage x", label="ABBR"),
                    SourceExample(id=1, text="@500 y", label="ABBR"), EXAMPLES[2]]
        outs = run(gen(server, max_retries=1), examples)
    assert outs[0].error.startswith("bad response")
    assert "(500)" in outs[1].error
    assert outs[2].error is None
    assert sum(1 for r in server.chat_requests if r.behaviour == "500") == 2  # one retry


def test_empty_content_is_cleaned_away_and_cached_once(workspace):
    cache = GenerationCache(Workspace(workspace).db())
    with fake_openai_server(default="empty") as server:
        result = synthesize(gen(server), EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)
    assert result.synthetic == [] and result.report.dropped["empty"] == 6
    with fake_openai_server() as server:
        again = synthesize(gen(server), EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)
        assert server.count == 0 and again.cached == 3


def test_key_never_in_repr():
    assert "sk-" not in repr(OpenAICompatibleGenerator(api_key="sk-secret", base_url="http://x"))


LLAMA_N_ERROR = "Field 'n': Value must be between 1 <= value <= 4, but got 5"


def test_server_capping_n_gets_all_texts_and_pays_the_refusal_once():
    """llama.cpp with 4 slots refuses n=5: ask for the cap it states, then for the rest; remember the cap."""
    with fake_openai_server(default="cap_n:4") as server:
        g = gen(server)
        outs = run(g, n=5)
        later = run(g, [SourceExample(id=9, text="What is NATO short for ?", label="ABBR")], n=5)
    assert all(o.error is None and len(o.texts) == 5 for o in [*outs.values(), *later.values()])
    refused = [r for r in server.chat_requests if r.body["n"] > 4]
    assert len(refused) == 1  # the first request only; every later one fits the cap
    assert sorted(r.body["n"] for r in server.chat_requests) == [1, 1, 1, 1, 4, 4, 4, 4, 5]


def test_server_ignoring_n_is_asked_again_with_new_seeds():
    """Ollama returns one choice whatever n says: repeat (with distinct seeds, or a seeded server repeats itself)."""
    with fake_openai_server(default="ignore_n") as server:
        outs = run(gen(server), n=3)
    assert all(o.error is None and len(o.texts) == 3 for o in outs.values())
    assert len(server.chat_requests) == 9
    assert [r.body["n"] for r in server.chat_requests].count(3) == 1  # n=1 once the first reply showed the limit
    per_prompt: dict[str, list[int]] = {}
    for r in server.chat_requests:
        per_prompt.setdefault(r.body["messages"][-1]["content"], []).append(r.body["seed"])
    assert all(len(set(seeds)) == 3 for seeds in per_prompt.values())


def test_refusal_of_every_n_is_an_error_with_the_servers_message(workspace):
    with fake_openai_server(default=f"400:{LLAMA_N_ERROR}") as server:
        outs = run(gen(server), n=5)
        with pytest.raises(GenerationError, match="Field 'n': Value must be between 1 <= value <= 4, but got 5"):
            synthesize(gen(server), EXAMPLES, n_per_example=5, class_name="ABBR",
                       cache=GenerationCache(Workspace(workspace).db()))
    assert outs[0].error == f"BadRequestError (400): {LLAMA_N_ERROR}"
    assert {r.body["n"] for r in server.chat_requests} == {5, 4, 1}  # tried the stated cap, then one; bounded


def test_other_bad_request_is_not_retried_and_hides_the_key():
    with fake_openai_server(default="400:model not loaded; key sk-test rejected") as server:
        outs = run(gen(server), n=3)
    assert outs[0].error == "BadRequestError (400): model not loaded; key *** rejected"
    assert len(server.chat_requests) == 3


def test_hint_adds_an_instruction_to_the_prompt():
    with fake_openai_server() as server:
        g = gen(server)
        list(g.generate(EXAMPLES[:1], 1, class_name="ABBR", hint="shorter and more formal"))
        list(g.generate(EXAMPLES[:1], 1, class_name="ABBR"))
    hinted, plain = (r.body["messages"][-1]["content"] for r in server.chat_requests)
    assert hinted == plain.rstrip() + "\n\nAlso make the new examples shorter and more formal."
