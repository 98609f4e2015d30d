"""The job runner: listeners ack and hand work here; nothing slow runs in a listener.

* :meth:`JobRunner.submit` runs a job on a worker thread; jobs with the same key run one after the other (two
  clicks on one review page are decided in order, so the second sees the first's result).
* :meth:`JobRunner.admit` gates runs per data set: at most ``runs_per_dataset`` at a time; a further request waits
  in a FIFO queue (its position is returned, to tell the user; ``on_queued`` runs as the owner's job before the
  run can start) or is refused with the reason when the queue is full. :meth:`JobRunner.release` ends a run and
  starts the next one waiting.
* The runner also provides Bolt's listener executor, so :meth:`wait_idle` knows when every listener and every job
  has finished (tests, and a clean shutdown).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("bot.jobs")

Job = Callable[[], None]


@dataclass(frozen=True)
class Admission:
    status: Literal["started", "queued", "refused"]
    position: int = 0       # 1 = next to start (queued only)
    running: int = 0        # runs of the data set going now
    reason: str = ""


class _CountingExecutor(ThreadPoolExecutor):
    """A thread pool that tells its owner when a task starts and ends."""

    def __init__(self, owner: JobRunner, max_workers: int, prefix: str):
        super().__init__(max_workers=max_workers, thread_name_prefix=prefix)
        self._owner = owner

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        self._owner._begin()

        def tracked():
            try:
                return fn(*args, **kwargs)
            finally:
                self._owner._end()

        return super().submit(tracked)


class JobRunner:
    def __init__(self, *, workers: int = 8, runs_per_dataset: int = 1, queue_limit: int = 3):
        self.runs_per_dataset = runs_per_dataset
        self.queue_limit = queue_limit
        self._cond = threading.Condition()
        self._inflight = 0
        self._keyed: dict[str, deque[Job]] = {}
        self._active: dict[str, set[str]] = {}
        self._waiting: dict[str, deque[tuple[str, str, Job]]] = {}
        self._pool = _CountingExecutor(self, workers, "autogets-job")
        self.listener_executor = _CountingExecutor(self, 5, "autogets-listener")

    # -- jobs ----------------------------------------------------------------------------------------------------

    def submit(self, key: str, job: Job) -> None:
        """Run ``job`` on a worker; jobs sharing ``key`` run in submission order, one at a time."""
        with self._cond:
            queue = self._keyed.get(key)
            if queue is not None:
                queue.append(job)
                self._inflight += 1  # counted until it has run
                return
            self._keyed[key] = deque()
        self._pool.submit(self._drain, key, job)

    def _drain(self, key: str, job: Job) -> None:
        while True:
            try:
                job()
            except Exception:  # the job answers the user itself; this is the last resort
                log.exception("job failed", extra={"job_key": key})
            with self._cond:
                queue = self._keyed[key]
                if not queue:
                    del self._keyed[key]
                    return
                job = queue.popleft()
                self._inflight -= 1

    # -- data set gate -------------------------------------------------------------------------------------------

    def admit(self, dataset: str, owner: str, start: Callable[[str], None], *, label: str = "",
              on_queued: Callable[[Admission], None] | None = None) -> Admission:
        """Start ``start(owner)`` now if ``dataset`` has a free slot, else queue it or refuse with the reason.
        When queued, ``on_queued(admission)`` is submitted as ``owner``'s job before the lock is let go, so it runs
        before the queued run's start (same key, submission order) however soon the slot frees."""
        with self._cond:
            active = self._active.setdefault(dataset, set())
            waiting = self._waiting.setdefault(dataset, deque())
            queued = [o for o, _, _ in waiting]
            if owner in queued:  # asked again while waiting: same place in the queue
                return self._queued(owner, Admission("queued", position=queued.index(owner) + 1,
                                                     running=len(active)), on_queued)
            if owner in active:  # the same conversation asks again: the agent answers (e.g. "a run is going")
                run_now = True
            elif len(active) < self.runs_per_dataset and not waiting:
                active.add(owner)
                run_now = True
            elif len(waiting) < self.queue_limit:
                waiting.append((owner, label, lambda: start(owner)))
                return self._queued(owner, Admission("queued", position=len(waiting), running=len(active)),
                                    on_queued)
            else:
                return Admission("refused", running=len(active), reason=(
                    f"{dataset} already has {len(active)} run(s) going and {len(waiting)} waiting, the most this "
                    "bot queues; try again when one finishes"))
        if run_now:
            self.submit(owner, lambda: start(owner))
        return Admission("started", running=len(active))

    def _queued(self, owner: str, admission: Admission,
                on_queued: Callable[[Admission], None] | None) -> Admission:
        """Submit ``on_queued`` as ``owner``'s job (called with the lock held)."""
        if on_queued is not None:
            self.submit(owner, lambda: on_queued(admission))
        return admission

    def hold(self, dataset: str, owner: str) -> None:
        """Count ``owner`` as a run of ``dataset`` (runs found waiting for review after a restart)."""
        with self._cond:
            self._active.setdefault(dataset, set()).add(owner)

    def release(self, dataset: str, owner: str) -> None:
        """``owner``'s run of ``dataset`` ended: start the next one waiting, if any."""
        with self._cond:
            self._active.get(dataset, set()).discard(owner)
            waiting = self._waiting.get(dataset)
            starts = []
            while waiting and len(self._active[dataset]) < self.runs_per_dataset:
                next_owner, _, job = waiting.popleft()
                self._active[dataset].add(next_owner)
                starts.append((next_owner, job))
        for next_owner, job in starts:
            self.submit(next_owner, job)

    def withdraw(self, dataset: str, owner: str) -> bool:
        """Take ``owner``'s request of ``dataset`` out of the queue (it will not start); False if it was not there."""
        with self._cond:
            waiting = self._waiting.get(dataset)
            kept = deque(item for item in waiting or () if item[0] != owner)
            if waiting is None or len(kept) == len(waiting):
                return False
            self._waiting[dataset] = kept
            return True

    def running(self, dataset: str) -> set[str]:
        with self._cond:
            return set(self._active.get(dataset, set()))

    def waiting(self, dataset: str) -> list[str]:
        with self._cond:
            return [owner for owner, _, _ in self._waiting.get(dataset, ())]

    def counts(self) -> dict[str, tuple[int, int]]:
        """``{data set: (runs going, requests waiting)}`` for every data set asked for so far (the metrics)."""
        with self._cond:
            return {dataset: (len(self._active.get(dataset, ())), len(self._waiting.get(dataset, ())))
                    for dataset in self._active.keys() | self._waiting.keys()}

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def _begin(self) -> None:
        with self._cond:
            self._inflight += 1

    def _end(self) -> None:
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no listener and no job is running or queued by key; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._inflight == 0 and not self._keyed, timeout)

    def shutdown(self, wait: bool = True) -> None:
        self.listener_executor.shutdown(wait=wait)
        self._pool.shutdown(wait=wait)
