"""The bot's Prometheus metrics, served at ``GET /metrics`` by its health listener (Socket Mode, ``--health-port``)
or its HTTP server (``--http``, beside ``/slack/events`` and ``/healthz``).

One :class:`Metrics` per bot process (per Web API client: :func:`bot.app.make_client` makes one with it, and the
app, the notifier and the servers share it), each with its **own** ``CollectorRegistry``, not prometheus_client's
global one: a test builds as many bots as it likes and reads exact counts. The standard process, GC and platform
collectors are registered on it too (``process_*``, ``python_*``).

Where the numbers come from (``autogets`` itself never imports prometheus, nor anything of the bot):

* runs started / finished / failed / cancelled: the agent's notifications (``run_started``, ``finished``,
  ``failed``, ``cancelled``) as :class:`bot.notify.SlackNotifier` receives them; the data set is the thread's
  (the bot's queue key), else the notification's;
* review decisions: the decisions the bridge hands the agent from the review page's buttons and the hint modal,
  counted once the agent applied them;
* queue length and active runs per data set: read from :class:`bot.jobs.JobRunner` at each scrape;
* Slack API errors and rate-limit retries: the Web API client (:class:`MeteredWebClient`, and its
  :class:`MeteredRateLimitRetryHandler`, which Bolt copies into the clients it makes per request);
* generation and search durations, candidate evaluations: the agent's progress events of one call
  (:class:`StepClock`): the time between two events goes to the step of the later one, and the time after the
  last event to that event's step, so a step is timed from the end of the step before it; one observation per
  step per agent call (a run stopped and resumed mid-search is two). Evaluations are the increase of a search
  phase's ``done`` (the agent throttles its events but always sends a phase's last one).

Labels are bounded: data sets (the catalog's names, or ``name@fingerprint`` of a data file in
``AUTOGETS_DATA_DIRS``), review actions, Slack methods and error codes (anything else is ``other``). Never a user
id, a channel, a text, a token or a run id.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

if TYPE_CHECKING:
    from bot.jobs import JobRunner

PREFIX = "autogets"
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))
REVIEW_ACTIONS = frozenset({"approve_page", "approve_all", "reject", "reject_all", "regenerate", "next_page",
                            "cancel", "approve"})
RUN_KINDS = {"run_started": "started", "finished": "finished", "failed": "failed", "cancelled": "cancelled"}
TIMED_STEPS = ("generate", "search")
_METHOD = re.compile(r"^[a-z]+(?:\.[A-Za-z]+)+$")
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_DATASET_CHARS = 100


def slack_method(value: Any) -> str:
    value = str(value or "")
    return value if _METHOD.match(value) and len(value) <= 64 else "other"


def error_code(value: Any) -> str:
    value = str(value or "")
    return value if _CODE.match(value) else "other"


def dataset_label(value: Any) -> str:
    """A data set's name (the catalog bounds them); ``unknown`` if none; cut to 100 characters."""
    text = str(value or "").strip()
    return text[:_DATASET_CHARS] if text else "unknown"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.runs = {kind: Counter(f"{PREFIX}_runs_{kind}", f"Runs {kind} (from the agent's notifications)",
                                   ["dataset"], registry=r)
                     for kind in ("started", "finished", "failed", "cancelled")}
        self.review_decisions = Counter(f"{PREFIX}_review_decisions", "Review decisions applied, by action "
                                        "(buttons and the hint modal of the review page)", ["action"], registry=r)
        self.slack_errors = Counter(f"{PREFIX}_slack_api_errors", "Slack Web API calls that failed, by method and "
                                    "Slack's error code (or the exception's class)", ["method", "error"], registry=r)
        self.slack_retries = Counter(f"{PREFIX}_slack_ratelimit_retries", "Web API calls retried after Slack "
                                     "answered 429 (ratelimited), by method", ["method"], registry=r)
        self.durations = {
            "generate": Histogram(f"{PREFIX}_generation_duration_seconds", "Generation of a run's synthetic texts "
                                  "(one round), from the agent's progress events", ["dataset"],
                                  buckets=DURATION_BUCKETS, registry=r),
            "search": Histogram(f"{PREFIX}_search_duration_seconds", "A run's search (per agent call), from the "
                                "agent's progress events", ["dataset"], buckets=DURATION_BUCKETS, registry=r)}
        self.evaluations = Counter(f"{PREFIX}_candidate_evaluations", "Candidate evaluations of the search, from "
                                   "the agent's progress events", ["dataset"], registry=r)
        self._queue = _QueueCollector()
        r.register(self._queue)

    # -- what the bot tells it -----------------------------------------------------------------------------------

    def watch_queue(self, jobs: JobRunner) -> None:
        """Report ``jobs``' queue length and active runs per data set at each scrape."""
        self._queue.jobs = jobs

    def notified(self, kind: str, dataset: Any) -> None:
        """An agent notification: counts the run kinds, ignores the others."""
        if kind in RUN_KINDS:
            self.runs[RUN_KINDS[kind]].labels(dataset_label(dataset)).inc()

    def decided(self, action: str) -> None:
        self.review_decisions.labels(action if action in REVIEW_ACTIONS else "other").inc()

    def slack_error(self, method: Any, exc: BaseException) -> None:
        code = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        self.slack_errors.labels(slack_method(method), error_code(code)).inc()

    def step_clock(self, dataset: Any) -> StepClock:
        return StepClock(self, dataset)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the format ``accept`` asks for (Prometheus text 0.0.4 unless OpenMetrics is asked)."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _QueueCollector:
    def __init__(self) -> None:
        self.jobs: JobRunner | None = None

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        queued = GaugeMetricFamily(f"{PREFIX}_queue_length", "Run requests waiting in a data set's queue",
                                   labels=["dataset"])
        active = GaugeMetricFamily(f"{PREFIX}_runs_active", "Runs of a data set going now (computing or waiting "
                                   "for review)", labels=["dataset"])
        for dataset, (running, waiting) in sorted((self.jobs.counts() if self.jobs else {}).items()):
            queued.add_metric([dataset_label(dataset)], waiting)
            active.add_metric([dataset_label(dataset)], running)
        return [queued, active]


class StepClock:
    """Times the steps of one agent call from its progress events (see the module's docstring); :meth:`close` when
    the call returned. Thread-safe: the agent calls :meth:`event` on the run's thread."""

    def __init__(self, metrics: Metrics, dataset: Any, clock: Callable[[], float] = time.monotonic):
        self.metrics, self.dataset, self.clock = metrics, dataset_label(dataset), clock
        self._lock = threading.Lock()
        self._last = clock()
        self._step: str | None = None
        self._spent: dict[str, float] = defaultdict(float)
        self._done: dict[str, int] = {}
        self._closed = False

    def event(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            now, step = self.clock(), event.get("step")
            if isinstance(step, str):
                self._spent[step] += now - self._last
                self._step = step
            self._last = now
            done = event.get("done")
            if step == "search" and isinstance(done, int) and not isinstance(done, bool):
                phase = str(event.get("phase") or "")
                grew = done - self._done.get(phase, 0)
                if grew > 0:
                    self._done[phase] = done
                    self.metrics.evaluations.labels(self.dataset).inc(grew)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._step is not None:
                self._spent[self._step] += self.clock() - self._last
            for step in TIMED_STEPS:
                if step in self._spent:
                    self.metrics.durations[step].labels(self.dataset).observe(max(0.0, self._spent[step]))


# -- the Web API client ------------------------------------------------------------------------------------------

class MeteredWebClient(WebClient):
    """slack_sdk's client, counting every Web API call that fails (``ok: false`` or no answer) in ``metrics``."""

    def __init__(self, *args: Any, metrics: Metrics | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.metrics = metrics or Metrics()

    def api_call(self, api_method: str, **kwargs: Any):  # type: ignore[override]
        try:
            return super().api_call(api_method, **kwargs)
        except (SlackApiError, OSError) as exc:
            self.metrics.slack_error(api_method, exc)
            raise


class MeteredRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's retry on 429 (waits out ``Retry-After``), counting each retry in ``metrics``."""

    def __init__(self, metrics: Metrics, max_retry_count: int = 3):
        super().__init__(max_retry_count=max_retry_count)
        self.metrics = metrics

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        method = str(getattr(request, "url", "") or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        self.metrics.slack_retries.labels(slack_method(method)).inc()
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
