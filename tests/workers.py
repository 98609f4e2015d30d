"""Top-level helpers for the concurrency tests: worker functions run in spawned processes (they must be importable),
and a small real :class:`SearchResult` to record in the knowledge map."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autogets.search.base import SearchResult

CLASSES = ("a", "b", "c")


def search_result(gain: float = 0.01, strategy: str = "sw") -> SearchResult:
    """A two-evaluation search on class ``a`` whose best candidate gains ``gain``."""
    import numpy as np

    from autogets.metrics import compute_metrics
    from autogets.search.base import SearchResult
    from autogets.search.evaluator import Evaluation

    truth = np.array([0, 0, 1, 1, 2, 2])
    base = compute_metrics(truth, np.array([0, 1, 1, 1, 2, 0]), CLASSES)
    better = compute_metrics(truth, np.array([0, 0, 1, 1, 2, 0]), CLASSES)
    baseline = Evaluation(frozenset(), 0, base, 0.0, 0.0, -1)
    best = Evaluation(frozenset({1}), 5, better, 0.0, 0.1, 1, gain=gain)
    history = (Evaluation(frozenset({0}), 5, base, 0.0, 0.1, 0), best)
    return SearchResult(strategy=strategy, best=best, baseline=baseline, history=history)


def run_worker(fn: Any, queue: Any, barrier: Any, *args: Any) -> None:
    """Run ``fn(start, *args)`` and put ``("ok", value)`` or ``("error", traceback)`` on ``queue``. ``fn`` imports
    what it needs, then calls ``start()``, which waits for every worker: the racing part starts together."""
    try:
        queue.put(("ok", fn(lambda: barrier.wait(timeout=120), *args)))
    except BaseException:  # the test reports whatever went wrong in the child
        queue.put(("error", traceback.format_exc()))


def open_and_migrate(start: Callable[[], Any], roots: list[str]) -> list[int | str]:
    """For each workspace in ``roots`` in turn, all workers together: migrate its new database over a plain
    connection. Returns the schema version ``migrate`` found in each, or the error it raised."""
    import sqlite3

    import sqlite_utils

    from autogets.workspace import migrate

    found = []
    for root in roots:
        Path(root).mkdir(parents=True, exist_ok=True)
        start()
        db = sqlite_utils.Database(sqlite3.connect(Path(root) / "autogets.db", timeout=30))
        try:
            found.append(migrate(db))
        except Exception as exc:  # reported by the test; the next round still starts together
            found.append(f"{type(exc).__name__}: {exc}")
        finally:
            db.close()
    return found


def write_rows(start: Callable[[], Any], root: str, worker: int, n: int) -> int:
    """Open the workspace (fresh or not) and insert ``n`` runs and ``n`` knowledge observations. (The knowledge rows
    are inserted directly: importing :mod:`autogets.knowledge` in 8 processes would cost more than the test.)"""
    from autogets.workspace import Workspace

    start()
    ws = Workspace(root)
    try:
        for i in range(n):
            ws.record_run(f"w{worker}-{i}", "test", "d", started_at="t", params={}, result={}, report_dir=Path("."))
            ws.db()["knowledge"].insert({"dataset": "d", "seed": worker, "class": "a", "strategy": "sw",
                                         "objective": "cba", "generator": "eda", "budget": i, "val_gain": i / 100,
                                         "effects": "{}", "run_id": f"w{worker}-{i}"})
    finally:
        ws.close()
    return n


def register_model(start: Callable[[], Any], root: str, worker: int) -> str:
    """Register one model for data set ``d``; returns its id."""
    from autogets.registry import Registry
    from autogets.workspace import Workspace

    start()
    ws = Workspace(root)
    try:
        version = Registry(ws).register({"worker": worker}, dataset="d", recipe={}, metrics_validation={},
                                        metrics_test={}, actor=f"w{worker}")
        return version.id
    finally:
        ws.close()


def promote_model(start: Callable[[], Any], root: str, model_id: str) -> str:
    from autogets.registry import Registry
    from autogets.workspace import Workspace

    start()
    ws = Workspace(root)
    try:
        return Registry(ws).promote(model_id).id
    finally:
        ws.close()


def run_processes(fn: Any, args: list[tuple], timeout: float = 120) -> list[tuple[str, Any]]:
    """Start one spawned process per ``args`` item running ``fn`` at the same moment; their (status, value) pairs."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(len(args))
    procs = [ctx.Process(target=run_worker, args=(fn, queue, barrier, *a)) for a in args]
    try:
        for p in procs:
            p.start()
        results = [queue.get(timeout=timeout) for _ in procs]
        for p in procs:
            p.join(timeout=timeout)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    return results


def fill_folder(start: Callable[[], Any], final: str, worker: int, rounds: int) -> int:
    """Replace the folder ``final`` ``rounds`` times through :func:`atomic_folder`, with files naming ``worker``."""
    from autogets.workspace import atomic_folder

    start()
    for r in range(rounds):
        with atomic_folder(Path(final)) as tmp:
            for name in ("a.txt", "b.txt", "c.txt"):
                (tmp / name).write_text(f"{worker}-{r}")
    return rounds
