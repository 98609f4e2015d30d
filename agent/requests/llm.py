"""Free text through an OpenAI-compatible LLM: :func:`parse_request` tries the grammar first and, only when it fails
and an LLM is configured, asks the model for an :class:`LLMCommand` and puts its answer through the same catalog
check as typed text (:mod:`agent.requests.check`).

The LLM may only produce read-only intents and ``improve`` (:data:`LLM_INTENTS`); messages that start with an
exact-only word never reach it, and a data file path it names is accepted only if it occurs verbatim in the user's
text. Any failure of the server or its answer (error, timeout, garbage) becomes a :class:`Clarify`.

Structured output uses ``method="json_schema"`` (``response_format`` with a JSON schema): it is what plain
OpenAI-compatible servers support most widely (OpenAI, vLLM and llama.cpp constrain decoding to the schema; Ollama
and LM Studio accept it), while ``function_calling`` needs a named ``tool_choice`` that several local servers
ignore or only support behind extra flags, and ``json_mode`` does not carry the schema. The content is parsed
and validated by pydantic on our side anyway. ``use_responses_api=False`` keeps requests on
``/v1/chat/completions`` (newer langchain-openai switches some model names to the Responses API, which local
servers lack). Each attempt times out after :data:`LLM_TIMEOUT` seconds and there is at most
:data:`LLM_MAX_RETRIES` retry (the openai client's, for 408/429/5xx and timeouts), so a chat turn waits about
10 s at worst. Names with a leading underscore are private to :mod:`agent.requests`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from agent.datafiles import DATA_SUFFIXES
from agent.prompts import PARSE_SYSTEM_PROMPT
from agent.requests.catalog import Catalog, _classes_or_empty, _is_path, as_catalog
from agent.requests.check import _check
from agent.requests.commands import MAX_BUDGET, OBJECTIVES, Clarify, Request, _Draft
from agent.requests.grammar import _CONTROL, _clean, _kw, _tokens, _too_long, _unmention, parse_command
from autogets.config import LLMSettings
from autogets.generators import GENERATORS
from autogets.search.objectives import CLASS_OBJECTIVES

log = logging.getLogger(__name__)

LLM_INTENTS = ("improve", "diagnose", "status", "models", "help")
"""What the LLM path may produce."""
LLM_TIMEOUT = 5.0
LLM_MAX_RETRIES = 1


class LLMCommand(BaseModel):
    """One chat message mapped to one AutoGeTS command (read-only intents and improve only)."""

    intent: Literal["improve", "diagnose", "status", "models", "help", "unclear"] = Field(
        description="the command; unclear when the message is not clearly one of the others")
    dataset: str | None = Field(default=None, description="data set name exactly as listed, or a file path "
                                                          "copied verbatim from the message")
    target: str | None = Field(default=None, description="improve: class name exactly as listed; null = weakest")
    objective: str | None = Field(default=None, description="improve: objective name, or null")
    budget: int | None = Field(default=None, description="improve: candidate evaluations per phase, or null")
    generator: str | None = Field(default=None, description="improve: generator name, or null")
    goal: str | None = Field(default=None, description="improve: metric:CLASS goals joined by commas, or null")
    oba_tolerance: float | None = Field(default=None, description="improve: how far overall balanced accuracy "
                                                                  "may drop to gain the class (0 to 1), or null")
    run: str | None = Field(default=None, description="status: a run id copied from the message, or null")


def _llm_draft(answer: LLMCommand, text: str) -> _Draft | Clarify | None:
    """The LLM's answer as a draft; None for unclear; a Clarify for what only the exact grammar may do."""
    if answer.intent == "unclear":
        return None
    if answer.intent not in LLM_INTENTS:  # the schema forbids it; a hostile server is checked all the same
        return Clarify("promote, rollback, cancel and approve all are only accepted as exact commands "
                       "(promote <DATASET>-v<N>, rollback <DATASET>, cancel, approve all); nothing was done.",
                       ("help",))
    fields = {k: v for k, v in answer.model_dump().items() if k != "intent"}
    if any(isinstance(v, str) and (len(v) > 200 or _CONTROL.search(v)) for v in fields.values()):
        return None
    if fields["dataset"] and _is_path(fields["dataset"]) and fields["dataset"] not in text:
        return None  # a file path the user never wrote is a guess
    if answer.intent == "status":
        return _Draft("status", run=fields["run"])
    if answer.intent == "help":
        return _Draft("help")
    if answer.intent != "improve":
        return _Draft(answer.intent, dataset=fields["dataset"])
    return _Draft("improve", **{k: fields[k] for k in ("dataset", "target", "objective", "budget", "generator",
                                                         "goal", "oba_tolerance")})


def system_prompt(catalog: Catalog | Mapping[str, Sequence[str]]) -> str:
    """The mapping prompt of :mod:`agent.prompts`, filled with the catalog's data sets and classes."""
    cat = as_catalog(catalog)
    lines = []
    for name in cat.names[:30]:
        desc = cat.descriptions.get(name, {})
        classes = [f"{c} ({desc[c]})" if c in desc else c for c in _classes_or_empty(cat, name)[:50]]
        lines.append(f"- {name}: {'; '.join(classes) or '(classes unknown)'}")
    return PARSE_SYSTEM_PROMPT.format(datasets="\n".join(lines) or "(none)", objectives=", ".join(OBJECTIVES),
                                      goal_metrics=", ".join(CLASS_OBJECTIVES), generators=", ".join(GENERATORS),
                                      max_budget=MAX_BUDGET, data_suffixes=", ".join(DATA_SUFFIXES))


def _ask_llm(text: str, catalog: Catalog, llm: LLMSettings, timeout: float, max_retries: int) -> LLMCommand | str:
    """The model's structured answer, or a short reason it has none (never raises)."""
    try:
        from langchain_core.messages import HumanMessage, SystemMessage
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(base_url=llm.base_url, api_key=llm.api_key or "not-needed", model=llm.model,
                           temperature=0, timeout=timeout, max_retries=max_retries, use_responses_api=False)
        structured = model.with_structured_output(LLMCommand, method="json_schema")
        answer = structured.invoke([SystemMessage(system_prompt(catalog)), HumanMessage(text)])
    except Exception as exc:  # the server and its answer are untrusted: any failure is a Clarify, not a crash
        log.warning("request mapping by the LLM failed: %s", type(exc).__name__)
        return _reason(exc)
    return answer if isinstance(answer, LLMCommand) else "it gave no answer"


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    if "Timeout" in type(exc).__name__:
        return "it did not answer in time"
    if isinstance(status, int):
        return f"it answered with an error ({status})"
    if isinstance(exc, ValueError):  # pydantic's ValidationError and JSON errors
        return "its answer was not a valid command"
    return f"it could not be reached ({type(exc).__name__})"


def parse_request(text: str, catalog: Catalog | Mapping[str, Sequence[str]], llm: LLMSettings | None, *,
                  timeout: float = LLM_TIMEOUT, max_retries: int = LLM_MAX_RETRIES) -> Request | Clarify:
    """:func:`parse_command`; when that fails and ``llm.base_url`` is set, the LLM maps the free text.

    The LLM's answer goes through the grammar's catalog check and may only be a read-only intent or ``improve``;
    show ``request.command()`` to say what was understood. Never raises.
    """
    cat = as_catalog(catalog)
    first = parse_command(text, cat)
    if isinstance(first, Request) or llm is None or not llm.base_url or _too_long(text) is not None:
        return first
    cleaned = _clean(text)
    head = _tokens(cleaned)[:1]
    if not cleaned or (head and _kw(head[0]) in ("promote", "rollback", "cancel", "approve")):
        return first  # exact-only commands are never handed to the model
    answer = _ask_llm(_unmention(text), cat, llm, timeout, max_retries)
    if isinstance(answer, str):
        return Clarify(f"(I asked the language model, but {answer}.) {first.message}", first.suggestions)
    draft = _llm_draft(answer, cleaned)
    if draft is None:
        return first
    return draft if isinstance(draft, Clarify) else _check(draft, cat)
