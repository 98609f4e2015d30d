"""The run store: what a person asked for (:class:`RunSpec`), the ``runs`` row of each run, and each finished
step's result (table ``run_steps``), so any process can continue a run from its last finished step."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from autogets.data import Dataset, Split, load_dataset, split_dataset
from autogets.errors import AutogetsError, DataError, SearchError
from autogets.identity import DatasetId, of_row, remember
from autogets.search.robust import OBA_TOLERANCE, AcceptRule
from autogets.workspace import Workspace, json_default, new_run_id, now_iso


class RunStateError(AutogetsError):
    """A step was asked for in a state where it cannot run (unknown run, missing earlier step)."""


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """What a person asked for. Stored with the run, so any process can continue it."""

    dataset: str | None = None
    data_path: str | None = None
    text_col: str = "text"
    label_col: str = "label"
    id_col: str | None = None
    min_class_size: int | None = None
    target: str | None = None
    objective: str = "cba"
    goal: str | None = None
    budget: int = 200
    budget_seconds: float | None = None
    max_phases: int = 3
    max_sources: int | None = None
    generator: str = "embedded"
    n_per_example: int = 5
    seed: int = 42
    classifier: str = "auto"         # "auto": chosen by diagnose (cross-validation); or a classifier name
    requester: str = "cli"
    fitness: str = "cv"              # "cv": repeated stratified folds of train + validation; "validation"
    folds: int = 5
    repeats: int = 2
    accept: str = "paired"           # "paired": a gain above noise across folds; "no_drop": the paper's rule
    accept_z: float = 1.0
    oba_tolerance: float = OBA_TOLERANCE  # how far OBA may drop for an accepted change (a trade for the goal)
    refit: str = "train+validation"  # real rows of the registered model and of the report's M0; or "train"
    winner: str = "goal"             # a phase's winner: best by the goal, or by the phase's own "objective"

    def load(self) -> Dataset:
        return load_dataset(self.dataset, path=Path(self.data_path) if self.data_path else None,
                            text_col=self.text_col, label_col=self.label_col, id_col=self.id_col,
                            min_class_size=self.min_class_size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def accept_rule(self) -> AcceptRule:
        """How this run accepts a change to the training set (:mod:`autogets.search.robust`)."""
        return AcceptRule(rule=self.accept, z=self.accept_z, oba_tolerance=self.oba_tolerance)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def get_step(ws: Workspace, run_id: str, step: str) -> dict | None:
    row = ws.db().execute("SELECT data FROM run_steps WHERE run_id = ? AND step = ?", [run_id, step]).fetchone()
    return json.loads(row[0]) if row else None


def put_step(ws: Workspace, run_id: str, step: str, data: dict) -> dict:
    db = ws.db()
    with db.conn:
        db["run_steps"].insert({"run_id": run_id, "step": step, "data": json.dumps(data, default=json_default),
                                "at": now_iso()}, replace=True)
    return data


def set_status(ws: Workspace, run_id: str, status: str, result: dict | None = None) -> None:
    db = ws.db()
    update: dict[str, Any] = {"status": status}
    if status in ("done", "no_gain", "failed", "cancelled"):
        update["finished_at"] = now_iso()
    if result is not None:
        update["result"] = json.dumps(result, default=json_default)
    with db.conn:
        db["runs"].update(run_id, update)


def run_row(ws: Workspace, run_id: str) -> dict:
    rows = list(ws.db().query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise RunStateError(f"no run {run_id!r}")
    return rows[0]


def run_identity(ws: Workspace, run_id: str) -> DatasetId:
    """The identity (name and content fingerprint) of the data set run ``run_id`` works on."""
    return of_row(run_row(ws, run_id))


def spec_of(ws: Workspace, run_id: str) -> RunSpec:
    return RunSpec.from_dict(json.loads(run_row(ws, run_id)["params"]))


def step_result(ws: Workspace, run_id: str, step: str) -> dict | None:
    """A finished step's stored result, or None."""
    return get_step(ws, run_id, step)


def need_step(ws: Workspace, run_id: str, step: str) -> dict:
    data = get_step(ws, run_id, step)
    if data is None:
        raise RunStateError(f"run {run_id}: step {step!r} has not run yet")
    return data


def load_split(spec: RunSpec) -> tuple[Dataset, Split]:
    ds = spec.load()
    return ds, split_dataset(ds, seed=spec.seed)


def run_split(ws: Workspace, run_id: str) -> tuple[Dataset, Split]:
    """The data set and split of run ``run_id``, loaded again from its request; a data file whose content changed
    since the run started (another fingerprint) is refused in one line: the run's steps so far were made on the old
    content."""
    ds, split = load_split(spec_of(ws, run_id))
    recorded = run_identity(ws, run_id)
    if recorded.fingerprint is not None and recorded.fingerprint != ds.fingerprint:
        raise DataError(f"{ds.source}: its content changed since run {run_id} started on it ({recorded.key}, now "
                        f"{ds.identity.key}); start a new run")
    return ds, split


def create_run(ws: Workspace, spec: RunSpec, *, run_id: str | None = None, max_active: int = 1) -> str:
    """Validate ``spec`` (data set loads, class and objective exist) and record a new run; returns its id.

    The data set (its identity: name and content) is claimed for the run (:func:`autogets.leases.claim`): if
    ``max_active`` other runs of it are being worked on, the run is refused (:class:`~autogets.errors.RunConflict`,
    naming the other run); otherwise this process holds the run's lock until :func:`autogets.leases.release_run` or
    its exit. The data set is remembered in the workspace (:func:`autogets.identity.remember`)."""
    from autogets.leases import claim
    from autogets.pipeline import check_class
    from autogets.search.objectives import make_objective, parse_goal

    ds, split = load_split(spec)
    if spec.target is not None:
        check_class(split, spec.target)
    if spec.goal:
        parse_goal(spec.goal, spec.target)
    make_objective(spec.objective, spec.target or split.classes[0])
    if spec.budget < 1 or spec.n_per_example < 1 or spec.max_phases < 1:
        raise SearchError("budget, n_per_example and max_phases must be at least 1")
    from autogets.pipeline import FITNESSES, REFITS

    spec.accept_rule()  # unknown rules and bad tolerances fail here, before the run is recorded
    if spec.fitness not in FITNESSES or spec.refit not in REFITS or spec.winner not in ("goal", "objective"):
        raise SearchError(f"unknown setting: fitness {spec.fitness!r} ({', '.join(FITNESSES)}), refit "
                          f"{spec.refit!r} ({', '.join(REFITS)}), winner {spec.winner!r} (goal, objective)")
    run_id = run_id or new_run_id()
    with claim(ws, ds.identity, run_id, limit=max_active) as db:
        remember(db, ds)
        db["runs"].insert({"id": run_id, "kind": "improve", **ds.identity.columns(), "status": "created",
                           "created_at": now_iso(), "finished_at": None, "params": json.dumps(spec.to_dict()),
                           "result": None, "report_dir": str(ws.report_dir("improve", ds.name, run_id))},
                          ignore=True)
    return run_id


def classifier_of(ws: Workspace, run_id: str) -> str:
    """The classifier of the run's M0 and of every model it trains: what diagnose chose (``auto``) or was asked."""
    diag = get_step(ws, run_id, "diagnose") or {}
    return diag.get("classifier") or spec_of(ws, run_id).classifier


def fail_run(ws: Workspace, run_id: str, reason: str) -> None:
    set_status(ws, run_id, "failed", {"error": reason})


def cancel_run(ws: Workspace, run_id: str) -> None:
    set_status(ws, run_id, "cancelled")


def request_cancel(ws: Workspace, run_id: str, *, actor: str) -> None:
    """Ask a run that is computing to stop: it checks :func:`cancel_requested` between its steps (and before a review
    page) and cancels itself there, so a person's "cancel" is answered at once and never waits for the step."""
    if get_step(ws, run_id, "cancel") is None:
        put_step(ws, run_id, "cancel", {"actor": actor, "at": now_iso()})


def cancel_requested(ws: Workspace, run_id: str) -> str | None:
    """Who asked the run to stop (:func:`request_cancel`), or None."""
    data = get_step(ws, run_id, "cancel")
    return data["actor"] if data else None




def shown_status(ws: Workspace, row: dict) -> str:
    """A run's state as a person should read it: a run marked running whose process is gone (killed, crashed) is
    ``stopped`` (resume it), or ``waiting for review`` when it stopped at its review page; else the stored status."""
    from autogets.leases import UNFINISHED, run_holder

    if row["status"] not in UNFINISHED or row["kind"] != "improve" or run_holder(ws, row["id"]) is not None:
        return row["status"]
    from autogets.review import pending_count

    waiting = get_step(ws, row["id"], "search") is None and get_step(ws, row["id"], "generate:0") is not None \
        and pending_count(ws, row["id"]) > 0
    return "waiting for review" if waiting else "stopped"
