"""Where candidate evaluations run. Local processes by default; Ray when asked (``pip install 'autogets[ray]'``;
imported only then).

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
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Protocol

from autogets.errors import AutogetsError, ConfigError, ExecutorError


class Executor(Protocol):
    """Maps ``fn(state, item)`` over items, results in item order. A task that fails (after the executor's retries,
    if any) raises :class:`~autogets.errors.ExecutorError` naming the item and the cause: never a silent gap."""

    workers: int

    def start(self, state: Any) -> None: ...

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class TaskFailed(Exception):
    """Raised in a worker when ``fn(state, item)`` raises: one picklable line plus the worker's traceback."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message, detail)
        self.message, self.detail = message, detail

    def __str__(self) -> str:
        return self.message


def _apply(fn: Callable[[Any, Any], Any], state: Any, item: Any) -> Any:
    try:
        return fn(state, item)
    except AutogetsError:  # already one line for the user
        raise
    except Exception as exc:
        text = repr(item)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise TaskFailed(f"{getattr(fn, '__name__', 'task')}{text if isinstance(item, tuple) else f'({text})'}"
                         f" failed: {type(exc).__name__}: {exc}", traceback.format_exc()) from None


def _failed(where: str, exc: BaseException) -> ExecutorError:
    cause = getattr(exc, "cause", None) or exc  # Ray wraps the task's exception
    return ExecutorError(f"a task failed on the {where} executor: {cause}")


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
        try:
            return [_apply(fn, self._state, item) for item in items]
        except TaskFailed as exc:
            raise _failed("serial", exc) from exc

    def close(self) -> None:
        self._state = None


_STATE: Any = None
_TOKEN: int | None = None


PARENT_POLL_SECONDS = 0.5
"""How often a pool worker checks that the process that started it is still alive."""


def _init_worker(parent: int | None = None, folder: str | None = None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent, folder), name="autogets-parent-watch",
                         daemon=True).start()


def _exit_with_parent(parent: int, folder: str | None) -> None:
    """End this worker once its parent is gone (``kill -9`` of ``autogets improve`` gives the pool no chance to stop
    its workers, which would otherwise live on, each holding the feature matrix), deleting the pool's state
    ``folder`` the parent can no longer delete. The resource tracker then sees every user of its pipe gone and ends
    too. A thread polling the parent id rather than ``PR_SET_PDEATHSIG``: that signal follows the *thread* that
    started the worker, and pools are started from worker threads too."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(1)


def _call(fn: Callable[[Any, Any], Any], token: int, path: str, item: Any) -> Any:
    global _STATE, _TOKEN
    if _TOKEN != token:  # a new state since this worker's last task: load it once
        with open(path, "rb") as f:
            _STATE = pickle.load(f)
        _TOKEN = token
    return _apply(fn, _STATE, item)


class LocalExecutor(_Closing):
    """A process pool (spawn start method: safe after torch or BLAS threads exist) sized to the cores.

    The pool lives until ``close``: every ``start(state)`` (one per search, ensemble phase or benchmark run) only
    writes the state to a private temporary file that each worker loads once, so a new search does not pay the
    process start-up again. Each task sends only its item. A failing task, or a worker that dies, is reported.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._dir: str | None = None
        self._token = 0

    def start(self, state: Any) -> None:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._dir = tempfile.mkdtemp(prefix="autogets-executor-")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                             initargs=(os.getpid(), self._dir))
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
        try:
            return list(self._pool.map(_call, [fn] * n, [self._token] * n, [path] * n, items, chunksize=chunk))
        except TaskFailed as exc:
            raise _failed("local", exc) from exc
        except BrokenProcessPool as exc:
            self.close()
            raise ExecutorError(f"a worker process of the local executor died: {exc}") from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _run_chunk(fn: Callable[[Any, Any], Any], state: Any, items: Sequence[Any]) -> list[Any]:
    """One Ray task: a chunk of items against the state (Ray resolves the state's reference from the store)."""
    return [_apply(fn, state, item) for item in items]


class RayExecutor(_Closing):
    """Ray tasks, behind the same interface as the process pool (``pip install 'autogets[ray]'``).

    ``address``: ``None`` starts a new local Ray with ``workers`` CPUs (no dashboard; never another Ray running on
    this machine) unless this process is already connected; ``"auto"`` joins the cluster running on this machine;
    ``"ray://host:10001"`` connects through Ray Client. The cluster's workers need autogets (and a bring-your-own
    classifier's module) importable.

    The state goes to the object store once per ``start`` (``ray.put``); every task gets its reference and a chunk
    of items. Ray re-runs a task whose worker or node died up to ``max_retries`` times; a task whose function raises
    (deterministic: the same inputs would fail again) is not re-run but reported as ``ExecutorError``. The process
    joins Ray once and stays connected until it exits: closing an executor ends its search, not Ray.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = 3):
        try:
            import ray
        except ImportError:
            raise ConfigError("Ray is not installed; pip install 'autogets[ray]'") from None
        self.address = address
        self.workers = workers or os.cpu_count() or 1
        self.max_retries = max_retries
        self._state_ref = None
        self._task = ray.remote(max_retries=max_retries, retry_exceptions=False)(_run_chunk)

    def start(self, state: Any) -> None:
        import ray

        _join_ray(self.address, self.workers)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", self.workers)))
        self._state_ref = ray.put(state)

    def map(self, fn, items):
        import ray

        if self._state_ref is None:
            raise RuntimeError("executor not started")
        size = max(1, len(items) // (self.workers * 4))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        try:
            parts = ray.get([self._task.remote(fn, self._state_ref, chunk) for chunk in chunks])
        except ray.exceptions.RayError as exc:
            raise _failed("ray", exc) from exc
        return [result for part in parts for result in part]

    def close(self) -> None:
        """Drop this search's state; Ray itself stays up for the process's other searches (see :func:`_join_ray`)."""
        self._state_ref = None


_ray_guard = threading.Lock()


def _join_ray(address: str | None, workers: int) -> None:
    """Connect this process to Ray once; every executor of the process shares that connection. Ray's lifetime is the
    process's: a search that ends must not shut Ray down under another run's search (issue 22 item 2), so a Ray this
    process started is shut down at exit."""
    import atexit

    import ray

    with _ray_guard:
        if ray.is_initialized():
            return
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorError(f"cannot start or reach Ray at {address or 'a new local instance'}: {exc}") from None
        atexit.register(ray.shutdown)


@contextmanager
def using(executor: str | Executor) -> Iterator[Executor]:
    """An executor for a job: a name makes one that is closed at the end; an instance is the caller's to close."""
    if isinstance(executor, str):
        with make_executor(executor) as made:
            yield made
    else:
        yield executor


def make_executor(name: str = "local", workers: int | None = None, address: str | None = None) -> Executor:
    """``local`` (process pool, default), ``serial``, or ``ray`` (at ``address``, default ``RAY_ADDRESS`` or a new
    local instance)."""
    if name == "ray":
        return RayExecutor(address=address or os.environ.get("RAY_ADDRESS") or None, workers=workers)
    if address and name in ("local", "serial"):
        raise ConfigError(f"--ray-address needs --executor ray (not {name})")
    if name == "local":
        return LocalExecutor(workers) if (workers or os.cpu_count() or 1) > 1 else SerialExecutor()
    if name == "serial":
        return SerialExecutor()
    raise ConfigError(f"unknown executor {name!r}; choose local, serial or ray")
