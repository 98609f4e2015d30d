"""Knowledge map (method Part A §10, Part B §6): per dataset, (improved class, strategy, objective, generator) →
best validation gain, its test gain, evaluations and seconds spent, class size, M0 recall / CBA, and the effect of
the chosen synthetic data on every other class (validation CBA change), for cross-class planning.

Filled by ``autogets kb build`` (every class × strategy × objective, resumable) and by the first phase of every
``improve`` run (the phase that starts from M0's training set; later phases start from an augmented one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

from autogets.data import Dataset
from autogets.executor import using
from autogets.generators import Generator
from autogets.search import Budget, SearchResult
from autogets.search.run import SearchReport, run_search
from autogets.workspace import Workspace, now_iso

KB_STRATEGIES = ("sw", "hsw", "ga", "random")
KB_OBJECTIVES = ("cba", "oba")


def record(ws: Workspace, report: SearchReport, *, seed: int, generator: str, budget: int) -> dict:
    """Store one search's outcome as a knowledge-map cell (replacing an earlier one for the same cell)."""
    return record_result(ws, report.result, dataset=report.dataset, target=report.target,
                         objective=report.objective, seed=seed, generator=generator, budget=budget,
                         test_gain=report.test_gain, run_id=report.run_id)


def record_result(ws: Workspace, result: SearchResult, *, dataset: str, target: str, objective: str, seed: int,
                  generator: str, budget: int, test_gain: float | None, run_id: str) -> dict:
    """Store a search result as a cell. ``test_gain`` is None when only a combined model was tested (an ensemble
    phase); the validation numbers are relative to the search's baseline (M0 for a first phase)."""
    base, best = result.baseline.metrics, result.best.metrics
    i = base.index(target)
    effects = {c: float(best.cba[j] - base.cba[j]) for j, c in enumerate(base.classes)}
    row = {"dataset": dataset, "seed": seed, "class": target, "strategy": result.strategy,
           "objective": objective, "generator": generator, "budget": budget, "val_gain": result.best.gain,
           "test_gain": test_gain, "evaluations": result.evaluations, "fit_seconds": result.fit_seconds,
           "class_size": int(base.support[i]), "m0_recall": float(base.recall[i]), "m0_cba": float(base.cba[i]),
           "effects": json.dumps(effects), "run_id": run_id, "created_at": now_iso()}
    with ws.db().conn:
        ws.db()["knowledge"].insert(row, replace=True)
    return row


def cells(ws: Workspace, dataset: str) -> pd.DataFrame:
    """The map of ``dataset`` as a frame (empty if nothing is known)."""
    rows = list(ws.db().query("SELECT * FROM knowledge WHERE dataset = ?", [dataset]))
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["effects"] = frame["effects"].map(json.loads)
    return frame


def build(ws: Workspace, dataset: Dataset, *, budget: int, generator: Generator, classes: Sequence[str] | None = None,
          strategies: Sequence[str] = KB_STRATEGIES, objectives: Sequence[str] = KB_OBJECTIVES, seed: int = 42,
          n_per_example: int = 5, executor: str = "local",
          on_cell: Callable[[dict, bool], None] | None = None) -> pd.DataFrame:
    """Run every missing cell (class × strategy × objective); finished cells are skipped (resumable)."""
    from autogets.data import split_dataset

    done = cells(ws, dataset.name)
    have = set()
    if not done.empty:
        sel = done[(done["generator"] == generator.name) & (done["budget"] == budget) & (done["seed"] == seed)]
        have = set(zip(sel["class"], sel["strategy"], sel["objective"], strict=True))
    todo = [(c, s, o) for c in classes or split_dataset(dataset, seed=seed).classes for s in strategies
            for o in objectives]
    with using(executor) as pool:
        for cls, strategy, objective in todo:
            cell = {"class": cls, "strategy": strategy, "objective": objective}
            if (cls, strategy, objective) in have:
                if on_cell:
                    on_cell(cell, True)
                continue
            report = run_search(ws, dataset, target=cls, strategy=strategy, objective=objective,
                                budget=Budget(max_evaluations=budget), generator=generator,
                                n_per_example=n_per_example, seed=seed, executor=pool)
            row = record(ws, report, seed=seed, generator=generator.name, budget=budget)
            if on_cell:
                on_cell({**cell, "val_gain": row["val_gain"], "test_gain": row["test_gain"]}, False)
    return cells(ws, dataset.name)


def heatmap(frame: pd.DataFrame, path, *, value: str = "val_gain", objective: str = "cba"):
    """Class × strategy heat map of the best gain for one objective (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = frame[frame["objective"] == objective]
    table = sub.pivot_table(index="class", columns="strategy", values=value, aggfunc="max")
    fig, ax = plt.subplots(figsize=(1.4 * len(table.columns) + 2, 0.6 * len(table.index) + 1.5))
    im = ax.imshow(table.to_numpy(), cmap="RdYlGn", vmin=-abs(table.to_numpy()).max(), vmax=abs(table.to_numpy()).max())
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table.index)), table.index)
    for (i, j), v in pd.DataFrame(table.to_numpy()).stack().items():
        ax.text(j, i, f"{v:+.3f}", ha="center", va="center", fontsize=8)
    ax.set_title(f"Knowledge map: best {objective.upper()} {value.replace('_', ' ')}")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
