"""Where candidate evaluations run. Local processes by default; Ray when asked (``pip install 'autogets[ray]'``).

An executor receives a *state* once (e.g. the cached feature matrix) and then maps a pure function
``fn(state, item)`` over batches of items, returning results in item order, so results never depend on the
executor: serial, process pool and Ray give identical answers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from autogets.errors import ConfigError


class Executor(Protocol):
    workers: int

    def start(self, state: Any) -> None: ...

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs everything in this process."""

    workers = 1

    def start(self, state: Any) -> None:
        self._state = state

    def map(self, fn, items):
        return [fn(self._state, item) for item in items]

    def close(self) -> None:
        self._state = None


_STATE: Any = None


def _init_worker(state: Any) -> None:
    global _STATE
    _STATE = state
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_STATE, item)


class LocalExecutor:
    """A process pool (spawn start method: safe after torch or BLAS threads exist) sized to the cores.

    The state is pickled once per worker at start; each task sends only its item.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def start(self, state: Any) -> None:
        self.close()
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                         initargs=(state,))

    def map(self, fn, items):
        if self._pool is None:
            raise RuntimeError("executor not started")
        chunk = max(1, len(items) // (self.workers * 4))
        return list(self._pool.map(_call, [fn] * len(items), items, chunksize=chunk))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Ray tasks; the state is put in the object store once. Connects to ``address`` (or starts a local Ray)."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError("Ray is not installed; pip install 'autogets[ray]'") from None
        self.address = address
        self.workers = workers or os.cpu_count() or 1

    def start(self, state: Any) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
        self._state_ref = ray.put(state)
        self._remote = ray.remote(lambda fn, state, item: fn(state, item))

    def map(self, fn, items):
        import ray

        return ray.get([self._remote.remote(fn, self._state_ref, item) for item in items])

    def close(self) -> None:
        self._state_ref = None


def make_executor(name: str = "local", workers: int | None = None) -> Executor:
    """``local`` (process pool, default), ``serial``, or ``ray``."""
    if name == "local":
        return LocalExecutor(workers) if (workers or os.cpu_count() or 1) > 1 else SerialExecutor()
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        return RayExecutor(address=os.environ.get("RAY_ADDRESS"), workers=workers)
    raise ConfigError(f"unknown executor {name!r}; choose local, serial or ray")
