"""The command language's values: intents, limits, the command list (:data:`COMMANDS`, :data:`HELP`), the
:class:`Request` a message becomes, the :class:`Clarify` it becomes when it cannot, and the :class:`_Draft` between.

A Request's names are the catalog's exact spelling and :meth:`Request.command` is its canonical text: it parses back to
an equal Request (:mod:`agent.requests.grammar`). Names with a leading underscore are private to :mod:`agent.requests`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from agent.datafiles import DATA_SUFFIXES
from autogets.generators import GENERATORS
from autogets.search.objectives import CLASS_OBJECTIVES, OVERALL_OBJECTIVES
from autogets.search.robust import OBA_TOLERANCE

Intent = Literal["improve", "diagnose", "status", "models", "promote", "rollback", "help", "cancel", "approve_all"]
INTENTS: tuple[str, ...] = get_args(Intent)
EXACT_ONLY = frozenset({"promote", "rollback", "cancel", "approve_all"})
"""Intents that change production or a run's fate: only from the grammar, never from the LLM."""

OBJECTIVES: tuple[str, ...] = CLASS_OBJECTIVES + OVERALL_OBJECTIVES
DEFAULT_OBJECTIVE = "cba"
MAX_BUDGET = 100_000
"""Largest budget (candidate evaluations per phase) a chat message may ask for; the CLI default is 200."""
MAX_TEXT = 2_000
"""Longest message parsed, in characters."""
MAX_SUGGESTIONS = 3

COMMANDS = f"""\
  improve <CLASS> on <DATASET|FILE> [objective <OBJECTIVE>] [budget <N>] [generator <GENERATOR>]
          [oba-tolerance <X>]
  improve <DATASET|FILE> [goal <METRIC:CLASS>,...]   (the weakest class, or several class goals)
  diagnose <DATASET|FILE>
  status [<RUN_ID>]
  models <DATASET>
  promote <DATASET>-v<N>
  rollback <DATASET>
  cancel | approve all   (in a run's thread)
  help
Objectives: {", ".join(OBJECTIVES)} (default {DEFAULT_OBJECTIVE}). Goal metrics: {", ".join(CLASS_OBJECTIVES)}.
Generators: {", ".join(GENERATORS)}. Budget: candidate evaluations per phase, 1 to {MAX_BUDGET}.
OBA tolerance: how far overall balanced accuracy may drop to gain the class, 0 to 1 (default {OBA_TOLERANCE:g}).
FILE: a data file ({", ".join(DATA_SUFFIXES)}) in a data folder (AUTOGETS_DATA_DIRS), with columns text and label."""

HELP = f"""Commands (keywords in any case; class names as the data set spells them, in any case):
{COMMANDS}
Examples: improve ABBR on trec6 objective recall budget 500; improve trec6 goal recall:ABBR,recall:LOC;
improve spam on ./tickets.csv; diagnose trec6; promote trec6-v3"""

_KEYWORDS = frozenset({"improve", "diagnose", "status", "models", "promote", "rollback", "help", "cancel", "approve",
                       "on", "objective", "budget", "generator", "goal", "oba-tolerance"})


@dataclass(frozen=True)
class Request:
    """One command the agent can act on; names are the catalog's exact spelling (see :meth:`command`)."""

    intent: Intent
    dataset: str | None = None       # a catalog name (None when the data is a file)
    data_path: str | None = None     # absolute path of a data file the catalog's data folders allow
    target: str | None = None        # the class to improve; None = the weakest class
    objective: str = DEFAULT_OBJECTIVE
    budget: int | None = None        # candidate evaluations per phase; None = the default
    generator: str | None = None     # None = the default generator
    version: str | None = None       # promote: "<dataset>-v<N>"
    run: str | None = None           # status: a run id
    goal: str | None = None          # improve: "recall:ABBR,recall:LOC" (autogets.search.objectives.parse_goal)
    oba_tolerance: float | None = None  # improve: how far OBA may drop; None = the default

    @property
    def exact_only(self) -> bool:
        """True for intents only the grammar may produce (promote, rollback, cancel, approve all)."""
        return self.intent in EXACT_ONLY

    def command(self, *, full: bool = True) -> str:
        """The canonical command text; it parses back to an equal Request. ``full=False`` omits the default
        objective (``improve ABBR on trec6`` rather than ``improve ABBR on trec6 objective cba``)."""
        where = _quote(self.data_path) if self.data_path else _quote(self.dataset or "")
        if self.intent == "improve":
            parts = ["improve"] + ([_quote(self.target), "on"] if self.target is not None else []) + [where]
            if self.goal:
                parts += ["goal", _quote(self.goal)]
            elif full or self.objective != DEFAULT_OBJECTIVE:
                parts += ["objective", self.objective]
            if self.budget is not None:
                parts += ["budget", str(self.budget)]
            if self.generator:
                parts += ["generator", self.generator]
            if self.oba_tolerance is not None:
                parts += ["oba-tolerance", repr(self.oba_tolerance)]
            return " ".join(parts)
        if self.intent == "diagnose":
            return f"diagnose {where}"
        if self.intent in ("models", "rollback"):
            return f"{self.intent} {_quote(self.dataset or '')}"
        if self.intent == "promote":
            return f"promote {self.version}"
        if self.intent == "status":
            return "status" + (f" {self.run}" if self.run else "")
        if self.intent == "approve_all":
            return "approve all"
        return self.intent

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Clarify:
    """The text could not be mapped with confidence: why, and the closest valid commands (each one parses)."""

    message: str
    suggestions: tuple[str, ...] = ()


def _quote(token: str) -> str:
    if token and not re.search(r"\s", token) and token.casefold() not in _KEYWORDS and token[0] not in "\"'":
        return token
    return f"'{token}'" if '"' in token else f'"{token}"'


@dataclass(frozen=True)
class _Draft:
    """What the user (or the LLM) named, before the catalog check; values as typed."""

    intent: str
    dataset: str | None = None
    target: str | None = None
    objective: str | None = None
    budget: str | int | None = None
    generator: str | None = None
    version: str | None = None
    run: str | None = None
    goal: str | None = None
    oba_tolerance: str | float | None = None
