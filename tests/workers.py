"""Top-level helpers for the concurrency tests: worker functions run in spawned processes (they must be importable),
and a small real :class:`SearchResult` to record in the knowledge map."""

from __future__ import annotations

import traceback
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
    """Wait for every worker at ``barrier``, run ``fn(*args)`` and put ``("ok", value)`` or ``("error", traceback)``
    on ``queue``. The library is imported before the barrier, so that the workers really start together."""
    try:
        import autogets.knowledge  # noqa: F401
        import autogets.registry  # noqa: F401

        barrier.wait(timeout=60)
        queue.put(("ok", fn(*args)))
    except BaseException:  # the test reports whatever went wrong in the child
        queue.put(("error", traceback.format_exc()))


def open_and_migrate(root: str) -> int:
    """Migrate the workspace database over a plain connection; returns the schema version ``migrate`` found."""
    import sqlite3

    import sqlite_utils

    from autogets.workspace import migrate

    Path(root).mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(sqlite3.connect(Path(root) / "autogets.db", timeout=30))
    try:
        return migrate(db)
    finally:
        db.close()


def write_rows(root: str, worker: int, n: int) -> int:
    """Open the workspace (fresh or not) and record ``n`` runs and ``n`` knowledge observations."""
    from autogets.knowledge import record_result
    from autogets.workspace import Workspace

    ws = Workspace(root)
    try:
        for i in range(n):
            ws.record_run(f"w{worker}-{i}", "test", "d", started_at="t", params={}, result={}, report_dir=Path("."))
            record_result(ws, search_result(gain=worker + i / 100), dataset="d", target="a", objective="cba",
                          seed=42, generator="eda", budget=10, test_gain=None, run_id=f"w{worker}-{i}")
    finally:
        ws.close()
    return n


def register_model(root: str, worker: int) -> str:
    """Register one model for data set ``d``; returns its id."""
    from autogets.registry import Registry
    from autogets.workspace import Workspace

    ws = Workspace(root)
    try:
        version = Registry(ws).register({"worker": worker}, dataset="d", recipe={}, metrics_validation={},
                                        metrics_test={}, actor=f"w{worker}")
        return version.id
    finally:
        ws.close()


def promote_model(root: str, model_id: str) -> str:
    from autogets.registry import Registry
    from autogets.workspace import Workspace

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
    for p in procs:
        p.start()
    results = [queue.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=timeout)
    return results
