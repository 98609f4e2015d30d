"""The catalog check, shared by the grammar and the LLM path: :func:`_check` turns a :class:`_Draft` into a
:class:`Request` with the catalog's exact spelling, or a :class:`Clarify` whose suggestions are commands that pass the
same check (:func:`_suggest`); :func:`_free_text` suggests commands for text that is not one. Fuzzy matching of names
(case, prefixes, difflib, words of class descriptions) lives here. Names with a leading underscore are private to
:mod:`agent.requests`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from agent.requests.catalog import Catalog, _classes_or_empty, _exact, _is_path, _no_data_set, _resolve_data
from agent.requests.commands import (
    COMMANDS,
    DEFAULT_OBJECTIVE,
    MAX_BUDGET,
    MAX_SUGGESTIONS,
    OBJECTIVES,
    Clarify,
    Request,
    _Draft,
)
from autogets.errors import SearchError
from autogets.generators import GENERATORS
from autogets.search.objectives import CLASS_OBJECTIVES
from autogets.search.robust import AcceptRule

_VERSION = re.compile(r"^(?P<ds>.+)-[vV](?P<n>[0-9]{1,9})$")
_RUN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/~-]*")


def _close(word: str, options: Sequence[str], cutoff: float = 0.6) -> list[str]:
    """Options close to ``word``: same spelling in another case, a prefix either way, then difflib."""
    w = word.casefold()
    folded = {o.casefold(): o for o in options}
    out = [o for o in options if o.casefold() == w]
    out += [o for o in options if len(o) >= 3 and len(w) >= 3 and (w.startswith(o.casefold())
                                                                   or o.casefold().startswith(w))]
    out += [folded[m] for m in difflib.get_close_matches(w, list(folded), n=MAX_SUGGESTIONS, cutoff=cutoff)]
    return list(dict.fromkeys(out))


_STOP = frozenset({"about", "asking", "questions", "question", "messages", "something", "state", "which", "where",
                   "their", "there", "other", "these", "those", "class", "classes", "better", "improve"})


@lru_cache(maxsize=256)
def _distinctive(described: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Word → class, for the words of (class, description) pairs that only one class's description uses."""
    seen: dict[str, set[str]] = {}
    for cls, text in described:
        for word in set(re.findall(r"[a-z]{5,}", text.casefold())) - _STOP:
            seen.setdefault(word, set()).add(cls)
    return {word: next(iter(cs)) for word, cs in seen.items() if len(cs) == 1}


def _described(word: str, classes: Sequence[str], descriptions: Mapping[str, str]) -> list[str]:
    """Classes whose description alone uses a word close to ``word`` ("abbreviation" → ABBR)."""
    w = word.casefold()
    if len(w) < 5 or w in _STOP or not descriptions:
        return []
    own = _distinctive(tuple((c, descriptions.get(c, "")) for c in classes))
    return list(dict.fromkeys(own[m] for m in difflib.get_close_matches(w, list(own), n=2, cutoff=0.8)))


def _closest_classes(word: str, classes: Sequence[str], descriptions: Mapping[str, str]) -> list[str]:
    return list(dict.fromkeys(_close(word, classes) + _described(word, classes, descriptions)))[:MAX_SUGGESTIONS]


def _suggest(draft: _Draft, catalog: Catalog, changes: Iterable[dict[str, Any]], depth: int) -> tuple[str, ...]:
    """Commands from ``draft`` with each change applied that pass the check; a change that still fails lends its
    own suggestions (one level deep), then is retried without options."""
    out: list[str] = []
    for change in changes:
        fixed = replace(draft, **change)
        for d in (fixed, replace(fixed, objective=None, budget=None, generator=None, goal=None, oba_tolerance=None)):
            result = _check(d, catalog, depth=depth + 1)
            found = [result.command(full=False)] if isinstance(result, Request) else list(result.suggestions)
            out += [c for c in found if c not in out]
            if found:
                break
        if len(out) >= MAX_SUGGESTIONS:
            break
    return tuple(out[:MAX_SUGGESTIONS])


def _check(d: _Draft, catalog: Catalog, *, depth: int = 0) -> Request | Clarify:
    """Validate a draft against the catalog: the exact-spelling Request, or a Clarify with valid suggestions
    (``depth`` bounds the search for them: a suggestion is a draft with one or two fields changed)."""
    def fail(message: str, changes: Iterable[dict[str, Any]] = ()) -> Clarify:
        return Clarify(message, _suggest(d, catalog, changes, depth) if depth < 2 else ())

    def one_of(field: str, value: str, options: Sequence[str]) -> str | Clarify:
        """``value`` as the option it names in any case, or a Clarify listing the options (objective, generator)."""
        if value.casefold() in options:
            return value.casefold()
        return fail(f"Unknown {field} {value[:40]!r}; {field}s: {', '.join(options)}.",
                    [{field: o} for o in _close(value, options, 0.5)] or [{field: None}])

    if d.intent in ("help", "cancel", "approve_all"):
        return Request(d.intent)  # type: ignore[arg-type]
    if d.intent == "status":
        if d.run is None:
            return Request("status")
        if not _RUN.match(d.run):
            return fail(f"{d.run[:40]!r} does not look like a run id.", [{"run": None}])
        return Request("status", run=d.run)
    if d.intent == "promote":
        m = _VERSION.match(d.version or "")
        known = catalog.names + catalog.registered
        if m is None or int(m["n"]) < 1:
            return fail(f"{(d.version or '')[:40]!r} is not a model version; write <DATASET>-v<N>, e.g. trec6-v3.")
        name = _exact(m["ds"], known)
        if name is None:
            return fail(_no_data_set(m["ds"], known),
                        [{"version": f"{n}-v{int(m['n'])}"} for n in _close(m["ds"], known)])
        return Request("promote", version=f"{name}-v{int(m['n'])}")
    if d.intent in ("models", "rollback"):
        known = catalog.names + catalog.registered
        name = _exact(d.dataset or "", known)
        if name is None:
            return fail(_no_data_set(d.dataset, known),
                        [{"dataset": n} for n in _close(d.dataset or "", known)])
        return Request(d.intent, dataset=name)  # type: ignore[arg-type]
    if d.intent not in ("improve", "diagnose"):
        return Clarify(f"Unknown command {d.intent[:40]!r}.", ("help",))

    data = _resolve_data(d.dataset or "", catalog)
    if isinstance(data, Clarify):
        if _is_path(d.dataset or ""):
            return data
        near = _close(d.dataset or "", catalog.names)
        having = [n for n in catalog.names if d.target and _closest_classes(d.target, _classes_or_empty(catalog, n),
                                                                            catalog.descriptions.get(n, {}))]
        return fail(data.message, [{"dataset": n} for n in dict.fromkeys(near + having)]
                    + [{"dataset": n, "target": None} for n in (near or catalog.names)])
    where = {"dataset": data.dataset, "data_path": data.data_path}
    if d.intent == "diagnose":
        return Request("diagnose", **where)

    target = None
    if d.target is not None:
        target = _exact(d.target, data.classes)
        if target is None:
            label = data.dataset or d.dataset
            close = _closest_classes(d.target, data.classes, data.descriptions)
            return fail(f"{label} has no class {d.target[:40]!r}; classes: {', '.join(data.classes)}.",
                        [{"target": c} for c in close] or [{"target": None}])
    goal = None
    if d.goal is not None:
        if target is not None:
            return fail("A goal replaces the class: write improve <DATASET> goal <METRIC:CLASS>,...",
                        [{"target": None}])
        if d.objective is not None:
            return fail("Give either an objective or a goal, not both.", [{"objective": None}])
        parts = []
        for part in d.goal.split(","):
            metric, sep, cls = part.strip().partition(":")
            if not sep or metric.casefold() not in CLASS_OBJECTIVES:
                return fail(f"Bad goal {part.strip()[:40]!r}: write METRIC:CLASS with METRIC one of "
                            f"{', '.join(CLASS_OBJECTIVES)}, e.g. recall:{data.classes[0]}.", [{"goal": None}])
            name = _exact(cls.strip(), data.classes)
            if name is None:
                close = _closest_classes(cls.strip(), data.classes, data.descriptions)
                return fail(f"{data.dataset or d.dataset} has no class {cls.strip()[:40]!r}; classes: "
                            f"{', '.join(data.classes)}.",
                            [{"goal": d.goal.replace(part, f"{metric}:{c}", 1)} for c in close] + [{"goal": None}])
            parts.append(f"{metric.casefold()}:{name}")
        goal = ",".join(dict.fromkeys(parts))
    objective = DEFAULT_OBJECTIVE if d.objective is None else one_of("objective", d.objective, OBJECTIVES)
    if isinstance(objective, Clarify):
        return objective
    budget = None
    if d.budget is not None:
        raw = str(d.budget).replace(",", "").replace("_", "")
        n = int(raw) if re.fullmatch(r"[0-9]{1,12}", raw) else None
        if n is None or not 1 <= n <= MAX_BUDGET:
            return fail(f"The budget must be a whole number from 1 to {MAX_BUDGET}.",
                        ([{"budget": MAX_BUDGET}] if n is not None and n > MAX_BUDGET else []) + [{"budget": None}])
        budget = n
    generator = None if d.generator is None else one_of("generator", d.generator, GENERATORS)
    if isinstance(generator, Clarify):
        return generator
    tolerance = None
    if d.oba_tolerance is not None:
        if isinstance(d.oba_tolerance, float):  # the LLM's structured answer: a number already
            tolerance = d.oba_tolerance
        else:
            raw = str(d.oba_tolerance).strip()
            number = re.fullmatch(r"(?=\.?[0-9])[0-9]{0,3}(?:\.[0-9]{0,24})?(?:[eE][-+]?[0-9]{1,3})?", raw)
            tolerance = float(raw) if number else None
        try:  # the range is the accept rule's (NaN and infinities are refused there too)
            if tolerance is None:
                raise SearchError(f"not a number: {d.oba_tolerance!r}")
            AcceptRule(oba_tolerance=tolerance)
        except SearchError:
            return fail("The OBA tolerance must be a number from 0 to 1 (an OBA drop), e.g. oba-tolerance 0.005.",
                        [{"oba_tolerance": None}])
    return Request("improve", **where, target=target, objective=objective, budget=budget, generator=generator,
                   goal=goal, oba_tolerance=tolerance)


# -- free text without a model: fuzzy suggestions ------------------------------------------------------------------

_SYNONYMS = {
    "improve": {"improve", "better", "boost", "fix", "raise", "increase", "enhance", "augment", "generate"},
    "diagnose": {"diagnose", "diagnosis", "doing", "weak", "weakest", "analyse", "analyze", "check", "how",
                 "performance", "report"},
    "models": {"models", "model", "versions", "version", "production"},
    "status": {"status", "progress", "running", "run", "runs", "job"},
    "help": {"help", "commands", "usage"},
}


def _free_text(text: str, catalog: Catalog) -> Clarify:
    """Clarify for text that is not a command: the closest commands its words point to, and the command list."""
    words = list(dict.fromkeys(w.strip(".:/-~") for w in _WORD.findall(text.casefold())))
    words = [w for w in words if w][:100]
    wanted = [i for i in ("improve", "diagnose", "models", "status", "help") if _SYNONYMS[i] & set(words)]
    datasets = list(dict.fromkeys(n for w in words for n in _close(w, catalog.names, 0.75)
                                  if len(w) >= 3 and w not in _SYNONYMS["improve"]))
    pool = datasets or list(catalog.names)
    pairs: list[tuple[str, str]] = []
    for n in pool:
        classes, desc = _classes_or_empty(catalog, n), catalog.descriptions.get(n, {})
        for w in words:
            exact = [c for c in classes if c.casefold() == w]
            near = exact or ([c for c in classes if len(c) >= 3 and w.startswith(c.casefold())]
                             + _described(w, classes, desc))
            pairs += [(c, n) for c in near if (c, n) not in pairs]
    drafts: list[_Draft] = []
    if "status" in wanted:
        drafts.append(_Draft("status"))
    drafts += [_Draft("improve", dataset=n, target=c) for c, n in pairs]
    exact = [w for w in ("promote", "rollback", "cancel", "approve") if w in words]
    order = ([i for i in wanted if i in ("improve", "diagnose", "models")]
             or (["models"] if exact else ["improve", "diagnose", "models"]))
    drafts += [_Draft(i, dataset=n) for n in datasets for i in order]
    if "help" in wanted or not drafts:
        drafts.append(_Draft("help"))
    out: list[str] = []
    for d in drafts:
        r = _check(d, catalog, depth=2)
        if isinstance(r, Request) and not r.exact_only and r.command(full=False) not in out:
            out.append(r.command(full=False))
    hint = (f" {exact[0]} is only accepted as the exact command (promote <DATASET>-v<N>, rollback <DATASET>, "
            f"cancel, approve all); nothing was done." if exact else "")
    return Clarify(f"I could not read that as a command.{hint}\nCommands:\n{COMMANDS}",
                   tuple(out[:MAX_SUGGESTIONS]))
