"""Knowledge map (method Part A §10, Part B §6): per dataset, (improved class, strategy, objective, generator) →
best validation gain, its test gain, evaluations and seconds spent, class size, M0 recall / CBA, and the effect of
the chosen synthetic data on every other class (validation CBA change), for cross-class planning.

Filled by ``autogets kb build`` (every class × strategy × objective, resumable) and by the first phase of every
``improve`` run (the phase that starts from M0's training set; later phases start from an augmented one).

A cell is (dataset, seed, class, strategy, objective, generator, budget, classifier), where the data set is its
identity, name and content (:mod:`autogets.identity`): a map of one ``tickets.csv`` never plans a run on another.
Every search of a cell is kept as one observation (:func:`observations`); readers see one row per cell with the
means and the count ``n`` (:func:`cells`). A plan reads only the cells of its own split seed, classifier and
generator (:func:`plan_cells`): another seed's validation rows are partly this split's test rows, and cells of
another classifier or generator say nothing about this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

import pandas as pd

from autogets.data import Dataset
from autogets.executor import using
from autogets.generators import Generator
from autogets.identity import DatasetId, as_identity
from autogets.search import Budget, SearchResult
from autogets.search.run import SearchReport, run_search
from autogets.workspace import Workspace, now_iso, write_transaction

KB_STRATEGIES = ("sw", "hsw", "ga", "random")
KB_OBJECTIVES = ("cba", "oba")
CELL = ["dataset", "seed", "class", "strategy", "objective", "generator", "budget", "classifier"]
"""The columns naming a cell of the map."""


def record(ws: Workspace, report: SearchReport, *, seed: int, generator: str, budget: int) -> dict:
    """Add one search's outcome to the knowledge map as an observation of its cell."""
    return record_result(ws, report.result, dataset=report.identity, target=report.target,
                         objective=report.objective, seed=seed, generator=generator, budget=budget,
                         test_gain=report.test_gain, run_id=report.run_id, classifier=report.classifier)


def record_result(ws: Workspace, result: SearchResult, *, dataset: DatasetId | str, target: str, objective: str,
                  seed: int, generator: str, budget: int, test_gain: float | None, run_id: str,
                  classifier: str) -> dict:
    """Add a search result as an observation of its cell (earlier observations are kept). ``test_gain`` is None
    when only a combined model was tested (an ensemble phase); the validation numbers are relative to the search's
    baseline (M0 for a first phase)."""
    base, best = result.baseline.metrics, result.best.metrics
    i = base.index(target)
    effects = {c: float(best.cba[j] - base.cba[j]) for j, c in enumerate(base.classes)}
    row = {**as_identity(dataset).columns(), "seed": seed, "class": target, "strategy": result.strategy,
           "objective": objective, "generator": generator, "budget": budget, "val_gain": result.best.gain,
           "test_gain": test_gain, "evaluations": result.evaluations, "fit_seconds": result.fit_seconds,
           "class_size": int(base.support[i]), "m0_recall": float(base.recall[i]), "m0_cba": float(base.cba[i]),
           "effects": json.dumps(effects), "run_id": run_id, "created_at": now_iso(), "classifier": classifier}
    with write_transaction(ws.db()) as db:
        db["knowledge"].insert(row)
    return row


def observations(ws: Workspace, dataset: DatasetId | str) -> pd.DataFrame:
    """Every observation of ``dataset``'s map, oldest first (empty frame if nothing is known)."""
    where, args = as_identity(dataset).where()
    frame = pd.DataFrame(list(ws.db().query(f"SELECT * FROM knowledge WHERE {where} ORDER BY id", args)))
    if not frame.empty:
        frame["effects"] = frame["effects"].map(json.loads)
        frame["test_gain"] = pd.to_numeric(frame["test_gain"]).astype(float)
    return frame


def cells(ws: Workspace, dataset: DatasetId | str) -> pd.DataFrame:
    """The map of ``dataset``, one row per cell (empty frame if nothing is known): the mean over the cell's
    observations of ``val_gain``, ``test_gain`` (NaN if none has one), ``evaluations``, ``fit_seconds`` and of each
    class's effect; ``n`` observations; the latest observation's class size, M0 numbers, run and time."""
    obs = observations(ws, dataset)
    if obs.empty:
        return obs
    obs["classifier"] = obs["classifier"].fillna("unknown")  # rows from before the column: never planned from
    groups = obs.groupby(CELL, sort=True)
    frame = groups.agg(val_gain=("val_gain", "mean"), test_gain=("test_gain", "mean"),
                       evaluations=("evaluations", "mean"), fit_seconds=("fit_seconds", "mean"), n=("id", "size"),
                       class_size=("class_size", "last"), m0_recall=("m0_recall", "last"), m0_cba=("m0_cba", "last"),
                       run_id=("run_id", "last"), created_at=("created_at", "last"))
    effects = {key: _mean_effects(group) for key, group in groups["effects"]}
    frame["effects"] = [effects[key] for key in frame.index]
    return frame.reset_index()


def plan_cells(ws: Workspace, dataset: DatasetId | str, *, seed: int, classifier: str, generator: str
               ) -> tuple[pd.DataFrame | None, str]:
    """The cells a plan may use — this split seed's, classifier's and generator's only — and a phrase saying which
    (for the plan's source)."""
    frame = cells(ws, dataset)
    which = f"split seed {seed}, classifier {classifier}, generator {generator}"
    if frame.empty:
        return None, which
    mine = frame[(frame["seed"] == seed) & (frame["classifier"] == classifier) & (frame["generator"] == generator)]
    return (mine.reset_index(drop=True) if not mine.empty else None), which


def _mean_effects(effects: Iterable[dict[str, float]]) -> dict[str, float]:
    """Per class, the mean effect over the observations that report one."""
    seen: dict[str, list[float]] = {}
    for effect in effects:
        for cls, value in effect.items():
            seen.setdefault(cls, []).append(float(value))
    return {cls: sum(values) / len(values) for cls, values in seen.items()}


def build(ws: Workspace, dataset: Dataset, *, budget: int, generator: Generator, classes: Sequence[str] | None = None,
          strategies: Sequence[str] = KB_STRATEGIES, objectives: Sequence[str] = KB_OBJECTIVES, seed: int = 42,
          n_per_example: int = 5, executor: str = "local", classifier: str = "auto",
          on_cell: Callable[[dict, bool], None] | None = None) -> pd.DataFrame:
    """Run every missing cell (class × strategy × objective); finished cells are skipped (resumable)."""
    from autogets.data import split_dataset
    from autogets.selection import resolve

    done = cells(ws, dataset.identity)
    have = set()
    if not done.empty:
        sel = done[(done["generator"] == generator.name) & (done["budget"] == budget) & (done["seed"] == seed)]
        have = {(c, s, o, k) for c, s, o, k in zip(sel["class"], sel["strategy"], sel["objective"],
                                                   sel["classifier"], strict=True)}
    split = split_dataset(dataset, seed=seed)
    todo = [(c, s, o) for c in classes or split.classes for s in strategies for o in objectives]
    chosen: dict[str, str] = {}
    with using(executor) as pool:
        for cls, strategy, objective in todo:
            cell = {"class": cls, "strategy": strategy, "objective": objective}
            if cls not in chosen:  # the classifier `improve --class cls` would use on this split
                chosen[cls] = resolve(classifier, split, target=cls, seed=seed)[0]
            if (cls, strategy, objective, chosen[cls]) in have:
                if on_cell:
                    on_cell(cell, True)
                continue
            report = run_search(ws, dataset, target=cls, strategy=strategy, objective=objective,
                                budget=Budget(max_evaluations=budget), generator=generator,
                                n_per_example=n_per_example, seed=seed, executor=pool, classifier=chosen[cls])
            row = record(ws, report, seed=seed, generator=generator.name, budget=budget)
            if on_cell:
                on_cell({**cell, "val_gain": row["val_gain"], "test_gain": row["test_gain"]}, False)
    return cells(ws, dataset.identity)


def heatmap(frame: pd.DataFrame, path, *, value: str = "val_gain", objective: str = "cba"):
    """Class × strategy heat map of the best gain for one objective (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autogets.plots import plot_text, quiet_warnings, save_figure

    sub = frame[frame["objective"] == objective]
    table = sub.pivot_table(index="class", columns="strategy", values=value, aggfunc="max")
    fig, ax = plt.subplots(figsize=(1.4 * len(table.columns) + 2, 0.6 * len(table.index) + 1.5))
    im = ax.imshow(table.to_numpy(), cmap="RdYlGn", vmin=-abs(table.to_numpy()).max(), vmax=abs(table.to_numpy()).max())
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table.index)), [plot_text(c) for c in table.index])
    for (i, j), v in pd.DataFrame(table.to_numpy()).stack().items():
        ax.text(j, i, f"{v:+.3f}", ha="center", va="center", fontsize=8)
    ax.set_title(f"Knowledge map: best {objective.upper()} {value.replace('_', ' ')}")
    fig.colorbar(im, ax=ax, shrink=0.8)
    with quiet_warnings():  # e.g. a class name's glyph missing from the font
        fig.tight_layout()
    return save_figure(fig, path)
