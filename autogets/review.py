"""Review of a run's synthetic texts: each listed in ``run_samples`` with a stable key (its generation-cache
identity); a person approves or rejects them (table ``reviews``, with who and when); only approved texts enter
candidates, and a text rejected once never enters a candidate of any later run on the same data set (it stays in
the generation cache, marked ``rejected``). "The same data set" is its identity, name and content
(:mod:`autogets.identity`): texts rejected on one ``tickets.csv`` do not bar another file of that name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlite_utils

from autogets.generators.base import Synthetic
from autogets.generators.cache import text_hash
from autogets.identity import DatasetId, as_identity
from autogets.runs import get_step, run_identity
from autogets.workspace import Workspace, now_iso

MAX_REGENERATIONS = 2
"""Regeneration rounds a review may ask for (issue: bounded to 2)."""


def sample_key(s: Synthetic, source_text: str) -> str:
    """Stable id of a synthetic text: its generation-cache identity."""
    blob = "\x00".join([s.generator, s.model, s.prompt_version, text_hash(source_text), str(s.sample_index)])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def text_key(text: str) -> str:
    return text_hash(" ".join(text.lower().split()))


def rejected_keys(db: sqlite_utils.Database, dataset: DatasetId | str) -> tuple[set[str], set[str]]:
    """Sample keys and text keys a person rejected in any run on ``dataset``."""
    where, args = as_identity(dataset).where()
    rows = db.execute(f"SELECT key, text_key FROM reviews WHERE {where} AND decision = 'rejected'", args).fetchall()
    return {r[0] for r in rows}, {r[1] for r in rows}


def may_train(db: sqlite_utils.Database, dataset: DatasetId | str, synthetic: Sequence[Synthetic],
              source_text: Callable[[Synthetic], str]) -> tuple[list[Synthetic], int]:
    """The one rule for which synthetic texts may train a model of ``dataset``: none that a person rejected in any
    run on it (by its sample key, or the same text under any key). Returns the kept texts (in order) and how many
    were left out. Every path that trains on synthetic texts — ``improve`` and the agent, ``search``, ``kb build``,
    ``bench`` — gets them through :func:`autogets.pipeline.synthesize_class` or :func:`approved_synthetic`, which
    both apply it."""
    bad_keys, bad_texts = rejected_keys(db, dataset)
    if not bad_keys and not bad_texts:
        return list(synthetic), 0
    kept = [s for s in synthetic
            if sample_key(s, source_text(s)) not in bad_keys and text_key(s.text) not in bad_texts]
    return kept, len(synthetic) - len(kept)


def latest_round(ws: Workspace, run_id: str) -> int:
    row = ws.db().execute("SELECT max(round) FROM run_samples WHERE run_id = ?", [run_id]).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _samples(ws: Workspace, run_id: str, where: str = "", args: Sequence[Any] = ()) -> list[dict]:
    sql = ("SELECT s.*, r.decision, r.actor FROM run_samples s LEFT JOIN reviews r ON r.run_id = s.run_id AND "
           f"r.key = s.key WHERE s.run_id = ? {where} ORDER BY s.round, s.position")
    return list(ws.db().query(sql, [run_id, *args]))


def pending_samples(ws: Workspace, run_id: str) -> list[dict]:
    """The latest round's undecided samples, in review order: the one query for "what still waits"."""
    return _samples(ws, run_id, "AND s.round = ? AND r.decision IS NULL", [latest_round(ws, run_id)])


def review_totals(ws: Workspace, run_id: str) -> dict:
    """Counts for the review header: generated, kept by the cleaner, dropped by reason (the latest round's), the
    decisions so far over the run (``approved``, ``rejected``, ``discarded``, ``pending``) and in the latest round
    (``round``, ``round_samples``, ``round_approved``, ``round_rejected``, ``round_pending``)."""
    round_ = latest_round(ws, run_id)
    gen = get_step(ws, run_id, f"generate:{round_}") or {"totals": {}}
    rows = ws.db().execute(
        "SELECT s.round = ?, coalesce(r.decision, 'pending'), count(*) FROM run_samples s LEFT JOIN reviews r ON "
        "r.run_id = s.run_id AND r.key = s.key WHERE s.run_id = ? GROUP BY 1, 2", [round_, run_id]).fetchall()
    counts: dict[str, int] = {}
    latest: dict[str, int] = {}
    for in_round, decision, n in rows:
        counts[decision] = counts.get(decision, 0) + n
        if in_round:
            latest[decision] = n
    return {**gen["totals"], "approved": counts.get("approved", 0), "rejected": counts.get("rejected", 0),
            "discarded": counts.get("discarded", 0), "pending": counts.get("pending", 0), "round": round_,
            "round_samples": sum(latest.values()), "round_approved": latest.get("approved", 0),
            "round_rejected": latest.get("rejected", 0), "round_pending": latest.get("pending", 0)}


def _count(totals: Mapping[str, Any], key: str) -> int | None:
    value = totals.get(key)
    return int(value) if isinstance(value, int) or str(value).isdigit() else None


def review_counts(*, undecided: int, page_samples: int | None, totals: Mapping[str, Any]) -> str:
    """A review page's counts in one line of plain text, the one wording for the terminal and Slack (each escapes
    it): the page's samples still to decide out of the page's own, the round's out of the round's with its
    decisions, what earlier rounds decided, and what the generator's texts became. E.g.
    ``8 of 10 samples on this page still to decide · 36 of 38 in this round (approved 0, rejected 2) · generated
    40, kept 38 (dropped 2: duplicate 2)``. Counts the totals do not give are left out."""
    on_page = page_samples if page_samples and page_samples >= undecided else undecided
    parts = [f"{undecided} of {on_page} samples on this page still to decide"]
    has_round = _count(totals, "round_pending") is not None
    pending = _count(totals, "round_pending" if has_round else "pending")
    size = _count(totals, "round_samples" if has_round else "kept")
    approved = _count(totals, "round_approved" if has_round else "approved")
    rejected = _count(totals, "round_rejected" if has_round else "rejected")
    if pending is not None:
        line = f"{pending} of {size} in this round" if size is not None and size >= pending else \
            f"{pending} in this round"
        decided = ", ".join(f"{word} {n}" for word, n in (("approved", approved), ("rejected", rejected))
                            if n is not None)
        parts.append(f"{line} ({decided})" if decided else line)
    if has_round:
        earlier = [(word, (_count(totals, word) or 0) - (_count(totals, f"round_{word}") or 0))
                   for word in ("approved", "rejected")]
        if any(n > 0 for _, n in earlier):
            parts.append("earlier rounds: " + ", ".join(f"{word} {n}" for word, n in earlier))
    generated, kept = _count(totals, "generated"), _count(totals, "kept")
    if generated is not None and kept is not None:
        dropped = totals.get("dropped") if isinstance(totals.get("dropped"), Mapping) else {}
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items(), key=str)[:6])
        total = sum(int(v) for v in dropped.values() if str(v).isdigit())
        parts.append(f"generated {generated}, kept {kept}" + (f" (dropped {total}: {reasons})" if reasons else ""))
    return " · ".join(parts)


def page_count(total: int, size: int) -> int:
    """Pages of a round of ``total`` samples: fixed for the round, whatever is decided on them."""
    return max(1, -(-total // size))


def review_page(ws: Workspace, run_id: str, page: int = 1, size: int = 10) -> dict:
    """Page ``page`` (1-based) of the latest round, with the totals: the one rule for what a page is.

    The round's samples, in review order, are cut into pages of ``size`` once: page numbers and the page count stay
    fixed for the round, and a page shows its own samples that are still undecided, numbered by their place on the
    page (after rejecting 1 and 3, the page shows 2, 4, 5, …: a number always means the same sample), so a
    decision never pulls the next page's samples forward; ``page_samples`` is how many the page has in all. A page
    with nothing left undecided is passed over for the next page in order that has some; after the last page comes
    the first (``page`` wraps too)."""
    round_ = latest_round(ws, run_id)
    rows = _samples(ws, run_id, "AND s.round = ?", [round_])
    pages = page_count(len(rows), size)
    first = (page - 1) % pages
    chunk: list[tuple[int, dict]] = []
    for offset in range(pages):
        page = (first + offset) % pages + 1
        own = rows[(page - 1) * size:page * size]
        chunk = [(i, r) for i, r in enumerate(own) if r["decision"] is None]
        if chunk:
            break
    else:
        page = first + 1
        own = rows[(page - 1) * size:page * size]
    return {"run_id": run_id, "page": page, "pages": pages, "round": round_, "page_samples": len(own),
            "samples": [{"number": i + 1, "key": r["key"], "source_id": r["source_id"],
                         "source_text": r["source_text"], "text": r["text"]} for i, r in chunk],
            "totals": review_totals(ws, run_id)}


def pending_count(ws: Workspace, run_id: str) -> int:
    return len(pending_samples(ws, run_id))


def decide(ws: Workspace, run_id: str, keys: Sequence[str], decision: str, *, actor: str) -> int:
    """Record ``decision`` (approved / rejected / discarded) for undecided samples among ``keys``; returns how many
    were recorded (a sample already decided keeps its first decision, so a repeated click changes nothing)."""
    if decision not in ("approved", "rejected", "discarded"):
        raise ValueError(f"unknown decision {decision!r}")
    dataset = run_identity(ws, run_id)
    rows = {r["key"]: r for r in _samples(ws, run_id, "AND r.decision IS NULL")}
    chosen = [rows[k] for k in dict.fromkeys(keys) if k in rows]
    db = ws.db()
    with db.conn:
        db["reviews"].insert_all([{"run_id": run_id, **dataset.columns(), "key": r["key"],
                                   "text_key": text_key(r["text"]), "decision": decision, "actor": actor,
                                   "at": now_iso()} for r in chosen], ignore=True)
        if decision == "rejected":
            for r in chosen:  # marked in the cache too; the text stays there
                db.execute("UPDATE generations SET status = 'rejected' WHERE generator = ? AND model = ? AND "
                           "prompt_version = ? AND source_hash = ? AND sample_index = ?",
                           [r["generator"], r["model"], r["prompt_version"], text_hash(r["source_text"]),
                            r["sample_index"]])
    return len(chosen)


def approve_all(ws: Workspace, run_id: str, *, actor: str, reject: Sequence[str] = ()) -> int:
    """Reject ``reject``, then approve every other undecided sample of the latest round."""
    decide(ws, run_id, reject, "rejected", actor=actor)
    keys = [r["key"] for r in pending_samples(ws, run_id)]
    return decide(ws, run_id, keys, "approved", actor=actor)


def discard_pending(ws: Workspace, run_id: str, *, actor: str, before_round: int | None = None) -> None:
    """Set aside (``discarded``) the undecided samples of the rounds before ``before_round`` (None: of every round).
    A regeneration passes its own round, so running it again after a crash never discards the round it stored."""
    dataset = run_identity(ws, run_id)
    where, args = ("AND r.decision IS NULL", []) if before_round is None else (
        "AND r.decision IS NULL AND s.round < ?", [before_round])
    keys = [r["key"] for r in _samples(ws, run_id, where, args)]
    ws.db()["reviews"].insert_all([{"run_id": run_id, **dataset.columns(), "key": k, "text_key": "",
                                    "decision": "discarded", "actor": actor, "at": now_iso()} for k in keys],
                                  ignore=True)


def approved_synthetic(ws: Workspace, run_id: str) -> list[tuple[str, Synthetic]]:
    """The run's approved texts (any round), minus anything rejected on this data set since, in a fixed order."""
    dataset = run_identity(ws, run_id)
    rows = _samples(ws, run_id, "AND r.decision = 'approved'")
    source_of = {(r["key"]): r["source_text"] for r in rows}
    listed = [(r["key"], Synthetic(source_id=r["source_id"], sample_index=r["sample_index"], text=r["text"],
                                   label=r["label"], generator=r["generator"], model=r["model"],
                                   prompt_version=r["prompt_version"],
                                   shown=tuple(json.loads(r["shown"])) if r.get("shown") else ())) for r in rows]
    key_of = {id(s): k for k, s in listed}
    kept, _ = may_train(ws.db(), dataset, [s for _, s in listed], lambda s: source_of[key_of[id(s)]])
    out = [(key_of[id(s)], s) for s in kept]
    out.sort(key=lambda ks: (ks[1].label, ks[1].source_id, ks[1].prompt_version, ks[1].sample_index))
    return out


REVIEW_ACTIONS = ("approve_page", "approve_all", "reject", "reject_all", "regenerate", "next_page", "cancel")


def apply_review(ws: Workspace, run_id: str, *, action: str, ids: Sequence[str] = (), page_keys: Sequence[str] = (),
                 actor: str) -> str:
    """Apply one review decision on a page (``page_keys``: the samples it showed). Returns what comes next:
    ``"same_page"``, ``"next_page"``, ``"regenerate"``, ``"cancel"``, or ``"search"`` once nothing is left
    undecided. Decisions are recorded once per sample, so applying the same decision twice changes nothing."""
    if action not in REVIEW_ACTIONS:
        raise ValueError(f"unknown review action {action!r}; one of {', '.join(REVIEW_ACTIONS)}")
    if action in ("regenerate", "cancel"):
        return action
    decide(ws, run_id, ids, "rejected", actor=actor)
    if action == "approve_page":
        decide(ws, run_id, [k for k in page_keys if k not in set(ids)], "approved", actor=actor)
    elif action == "approve_all":
        approve_all(ws, run_id, actor=actor)
    elif action == "reject_all":
        pending = [r["key"] for r in pending_samples(ws, run_id)]
        decide(ws, run_id, pending, "rejected", actor=actor)
    if pending_count(ws, run_id) == 0:
        return "search"
    return "same_page" if action == "reject" else "next_page"
