"""Which messages start a run, and under which data set they queue: read by the agent's own parser.

The bot has no grammar of its own. :func:`parser_for` is :func:`agent.requests.parse_request` with the agent's
catalog (the bundled data sets, the data folders chat users may name) and its LLM, so a request the agent would run —
``improve trec6 budget 300``, ``improve TREC6 goal recall:ABBR``, free text the LLM maps to ``improve`` — is the one
the bot queues. :func:`run_request` turns an ``improve`` :class:`~agent.requests.Request` into a
:class:`RunRequest`: its queue key (:func:`run_key`) and the canonical command the agent is then asked, which parses
back to the same request without the LLM (one LLM call per message, and no second reading that could differ).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.context import AgentContext
from agent.requests import Catalog, Clarify, Request, parse_request
from autogets.data import BUNDLED, bundled_identity, load_dataset
from autogets.errors import AutogetsError

log = logging.getLogger("bot.admission")

Parser = Callable[[str], Request | Clarify]


@dataclass(frozen=True)
class RunRequest:
    """A message that starts a run: the data set it queues under, and the command the agent is asked."""

    key: str
    command: str
    request: Request | None      # None: ``resume`` of a run a restart interrupted (bot.bridge)


def parser_for(context: AgentContext) -> Parser:
    """The agent's parser for this context (catalog built once, so data set classes are read once)."""
    catalog = Catalog.bundled(data=context.data_folders)
    llm = context.llm

    def parse(text: str) -> Request | Clarify:
        return parse_request(text, catalog, llm)

    return parse


def run_key(request: Request) -> str:
    """The data set a run of ``request`` holds: a bundled data set's catalog name (``trec6`` however it was typed);
    a data file's identity ``name@fingerprint`` (:mod:`autogets.identity`, as the run's claim uses it), or the
    bundled name when the file holds exactly that data set; a hash of the file's path if it cannot be read (the agent
    then says why; a path never becomes a queue key or a metrics label)."""
    if request.dataset is not None:
        return request.dataset
    path = Path(str(request.data_path))
    try:
        identity = load_dataset(path=path).identity
    except (AutogetsError, OSError, ValueError) as exc:
        log.warning("data file not readable for admission", extra={"error": type(exc).__name__})
        return "unreadable-file@" + hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]  # never a path
    if identity.name in BUNDLED and identity == bundled_identity(identity.name):
        return identity.name
    return identity.key


def run_request(parsed: Request | Clarify) -> RunRequest | None:
    """The run ``parsed`` asks for, or None when it starts no run (another command, or not understood)."""
    if not isinstance(parsed, Request) or parsed.intent != "improve":
        return None
    return RunRequest(key=run_key(parsed), command=parsed.command(full=False), request=parsed)


def agent_command(parsed: Request | Clarify, text: str) -> str:
    """What the agent is asked for a message that starts no run: the canonical command when the parse understood
    one (the agent reads it again without the LLM), else the user's own text (the agent answers it)."""
    return parsed.command(full=False) if isinstance(parsed, Request) else text
