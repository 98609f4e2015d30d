"""The deterministic grammar (:data:`~agent.requests.commands.HELP`): cleaning and tokenising a chat message, the
shape of each command (:func:`_syntax`), and the two grammar-only entry points, :func:`parse_command` and
:func:`thread_reply` (a reply typed in a waiting run's thread). Both end in the catalog check
(:mod:`agent.requests.check`). Names with a leading underscore are private to :mod:`agent.requests`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent.requests.catalog import Catalog, as_catalog
from agent.requests.check import _check, _free_text
from agent.requests.commands import COMMANDS, MAX_SUGGESTIONS, MAX_TEXT, Clarify, Request, _Draft

_OPTIONS = ("objective", "budget", "generator", "goal", "oba-tolerance")
_MENTION = re.compile(r"^(?:<@[^>\s]{1,40}>|@[\w.-]{1,40})[\s,:;]*")
_TOKEN = re.compile(r'"([^"]*)"|\'([^\']*)\'|(\S+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


def _unmention(text: str) -> str:
    """Without control characters, curly quotes and leading bot mentions."""
    text = _CONTROL.sub(" ", text.translate(_QUOTES)).strip()
    while (m := _MENTION.match(text)) is not None:
        text = text[m.end():]
    return text.strip()


def _clean(text: str) -> str:
    return _unmention(text).strip("`* ").lstrip(",;:!?- ").rstrip(".,;:!? ").strip()


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, quoted) pairs; unquoted tokens lose trailing commas and semicolons."""
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(3) is None:
            out.append((m.group(1) if m.group(1) is not None else m.group(2), True))
        elif tok := m.group(3).rstrip(",;"):
            out.append((tok, False))
    return out


def _kw(tok: tuple[str, bool]) -> str | None:
    return None if tok[1] else tok[0].casefold()


def _syntax(text: str, catalog: Catalog) -> _Draft | Clarify | None:
    """The grammar's shape only; None when the text does not start with a command word."""
    toks = _tokens(text)
    if not toks:
        return None
    head, rest = _kw(toks[0]), toks[1:]
    if head == "approve" and len(rest) == 1 and _kw(rest[0]) == "all":
        return _Draft("approve_all")
    if head == "help":
        return _Draft("help")
    if head == "cancel":
        return _Draft("cancel") if not rest else Clarify("To cancel this thread's run, write just: cancel", ("cancel",))
    if head == "approve":
        return Clarify("To approve every remaining sample of this thread's run, write: approve all", ("approve all",))
    if head == "status":
        if len(rest) > 1:
            return Clarify("Write status, or status <RUN_ID> for one run.", ("status",))
        return _Draft("status", run=rest[0][0] if rest else None)
    if head in ("diagnose", "models", "rollback", "promote"):
        if len(rest) != 1:
            what = "<DATASET>-v<N>" if head == "promote" else "<DATASET|FILE>" if head == "diagnose" else "<DATASET>"
            return Clarify(f"Write {head} {what}.", _examples(head, catalog))
        if head == "promote":
            return _Draft("promote", version=rest[0][0])
        return _Draft(head, dataset=rest[0][0])
    if head == "improve":
        return _improve_syntax(rest, catalog)
    return None


def _improve_syntax(toks: list[tuple[str, bool]], catalog: Catalog) -> _Draft | Clarify:
    usage = "Write improve <CLASS> on <DATASET|FILE>, or improve <DATASET|FILE> for its weakest class."
    cut = next((i for i, t in enumerate(toks) if _kw(t) in _OPTIONS), len(toks))
    head, opts = toks[:cut], toks[cut:]
    ons = [i for i, t in enumerate(head) if _kw(t) == "on"]
    if len(head) == 1 and not ons:
        fields: dict[str, Any] = {"dataset": head[0][0]}
    elif ons and ons[-1] == len(head) - 2 and ons[-1] > 0:
        fields = {"target": " ".join(t[0] for t in head[:ons[-1]]), "dataset": head[-1][0]}
    else:
        return Clarify(usage, _examples("improve", catalog))
    i = 0
    while i < len(opts):
        name = _kw(opts[i])
        if name not in _OPTIONS:
            return Clarify(f"I did not understand {opts[i][0][:40]!r} in that command. {usage}",
                           _examples("improve", catalog))
        if name.replace("-", "_") in fields:
            return Clarify(f"{name} is given twice.", ())
        j = i + 1
        while j < len(opts) and _kw(opts[j]) not in _OPTIONS and (name == "goal" or j == i + 1):
            j += 1
        values = [t[0] for t in opts[i + 1:j]]
        if not values:
            return Clarify(f"{name} needs a value, e.g. {_OPTION_EXAMPLES[name]}.", ())
        fields[name.replace("-", "_")] = ",".join(v.strip(",") for v in values) if name == "goal" else values[0]
        i = j
    return _Draft("improve", **fields)


_OPTION_EXAMPLES = {"objective": "objective recall", "budget": "budget 500", "generator": "generator openai",
                    "goal": "goal recall:ABBR,recall:LOC", "oba-tolerance": "oba-tolerance 0.005"}


def _examples(intent: str, catalog: Catalog) -> tuple[str, ...]:
    names = catalog.names[:MAX_SUGGESTIONS]
    if intent == "promote":
        return ()
    return tuple(Request(intent, dataset=n).command(full=False) for n in names)  # type: ignore[arg-type]


def _too_long(text: str) -> Clarify | None:
    if len(text) > MAX_TEXT:
        return Clarify(f"That message is too long ({len(text)} characters; at most {MAX_TEXT}). "
                       f"Send one command, e.g. improve <CLASS> on <DATASET>.", ("help",))
    return None


def parse_command(text: str, catalog: Catalog | Mapping[str, Sequence[str]]) -> Request | Clarify:
    """The deterministic grammar (:data:`HELP`): a :class:`Request`, or a :class:`Clarify` naming valid commands.

    Keywords in any case; a leading bot mention (``<@U123>``, ``@autogets``) and surrounding punctuation are
    ignored; class and data set names match the catalog's spelling in any case. Never raises for any text.
    """
    cat = as_catalog(catalog)
    if (long := _too_long(text)) is not None:
        return long
    cleaned = _clean(text)
    if not cleaned:
        return Clarify(f"Say a command.\nCommands:\n{COMMANDS}", ("help",))
    draft = _syntax(cleaned, cat)
    if draft is None:
        return _free_text(cleaned, cat)
    return draft if isinstance(draft, Clarify) else _check(draft, cat)


THREAD_INTENTS = ("cancel", "approve_all", "status")
"""What a reply typed in the thread of a waiting run may do to it."""


def thread_reply(text: str) -> Request | Clarify | None:
    """A reply typed in a thread whose run waits for a person, read by the grammar alone (never the LLM).

    ``cancel``, ``approve all`` or ``status`` as a :class:`Request`; a :class:`Clarify` saying what to write when
    the reply starts with ``approve`` or ``cancel`` but is not exactly one of those (a bare ``approve`` approves
    nothing: :data:`HELP` and SECURITY.md accept ``approve all`` only); None for any other text."""
    if _too_long(text) is not None:
        return None
    cleaned = _clean(text)
    head = _tokens(cleaned)[:1]
    if not head or _kw(head[0]) not in ("approve", "cancel", "status"):
        return None
    empty = Catalog({})
    draft = _syntax(cleaned, empty)
    if draft is None or isinstance(draft, Clarify):
        return draft
    result = _check(draft, empty)
    if isinstance(result, Request) and result.intent not in THREAD_INTENTS:
        return None
    return result


def thread_intent(text: str) -> str | None:
    """``cancel``, ``status`` or ``approve_all`` typed in a thread (:func:`thread_reply`'s request); None for
    anything else, a :class:`Clarify` included."""
    reply = thread_reply(text)
    return reply.intent if isinstance(reply, Request) else None
