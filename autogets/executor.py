"""Where candidate evaluations run. Local processes by default; Ray when asked (``pip install 'autogets[ray]'``).

An executor receives a *state* at the start of each search (e.g. the cached feature matrix) and then maps a pure
function ``fn(state, item)`` over batches of items, returning results in item order, so results never depend on the
executor: serial, process pool and Ray give identical answers.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from autogets.errors import ConfigError


class Executor(Protocol):
    workers: int

    def start(self, state: Any) -> None: ...

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class _Closing:
    """Context-manager mixin: ``with make_executor() as ex: ...`` closes the executor on exit."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(_Closing):
    """Runs everything in this process."""

    workers = 1

    def start(self, state: Any) -> None:
        self._state = state

    def map(self, fn, items):
        return [fn(self._state, item) for item in items]

    def close(self) -> None:
        self._state = None


_STATE: Any = None
_TOKEN: int | None = None


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _call(fn: Callable[[Any, Any], Any], token: int, path: str, item: Any) -> Any:
    global _STATE, _TOKEN
    if _TOKEN != token:  # a new state since this worker's last task: load it once
        with open(path, "rb") as f:
            _STATE = pickle.load(f)
        _TOKEN = token
    return fn(_STATE, item)


class LocalExecutor(_Closing):
    """A process pool (spawn start method: safe after torch or BLAS threads exist) sized to the cores.

    The pool lives until ``close``: every ``start(state)`` (one per search, ensemble phase or benchmark run) only
    writes the state to a private temporary file that each worker loads once, so a new search does not pay the
    process start-up again. Each task sends only its item.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._dir: str | None = None
        self._token = 0

    def start(self, state: Any) -> None:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker)
            self._dir = tempfile.mkdtemp(prefix="autogets-executor-")
        self._token += 1
        path = os.path.join(self._dir, "state.pkl")
        with open(path + ".tmp", "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".tmp", path)

    def map(self, fn, items):
        if self._pool is None:
            raise RuntimeError("executor not started")
        n = len(items)
        chunk = max(1, n // (self.workers * 4))
        path = os.path.join(self._dir, "state.pkl")
        return list(self._pool.map(_call, [fn] * n, [self._token] * n, [path] * n, items, chunksize=chunk))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class RayExecutor(_Closing):
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


@contextmanager
def using(executor: str | Executor) -> Iterator[Executor]:
    """An executor for a job: a name makes one that is closed at the end; an instance is the caller's to close."""
    if isinstance(executor, str):
        with make_executor(executor) as made:
            yield made
    else:
        yield executor


def make_executor(name: str = "local", workers: int | None = None) -> Executor:
    """``local`` (process pool, default), ``serial``, or ``ray``."""
    if name == "local":
        return LocalExecutor(workers) if (workers or os.cpu_count() or 1) > 1 else SerialExecutor()
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        return RayExecutor(address=os.environ.get("RAY_ADDRESS"), workers=workers)
    raise ConfigError(f"unknown executor {name!r}; choose local, serial or ray")
