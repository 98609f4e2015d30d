"""Load on the Slack bot as a team uses it, on loopback (issue 22, "must show" 2): a benchmark, not a timed test.

A real bot process (``autogets bot --http``: Bolt, the HTTP server, the workspace lease, the real agent with
``--generator eda``) serves signed requests like Slack's, and talks to the fake Slack Web API of ``tests/fakes``
(127.0.0.1). ``--users`` people work in ``--threads`` threads on the bundled data sets (trec6, sms_spam,
banking_dev): each thread's requester asks for a run (``improve <class> on <data set> budget <n>``, one distinct
request per thread), and while the runs compute, wait in the queue or wait for review, other people type ``status``
and ``cancel`` (refused: they did not ask), click the review page (refused), the requester approves page 1 with two
samples rejected, then the requester types ``approve all`` or an approver clicks "Approve all". In the middle the bot
process is killed (``SIGKILL``) and a new one started on the same workspace: runs it interrupted are resumed by their
requester ("resume"), requests it held in its queue are asked again by the new process.

Counts written to ``<out>/<date>-bot-load.json`` and ``.md``: requests sent and answered, runs started, finished,
resumable and failed, duplicate runs (two runs of one thread's request) and duplicate model versions (two versions
of one run), the bot's log size, every Block Kit payload checked (``tests.fakes.payload_check``), and how long
each reply waited for its first answer — ``status``, ``cancel``, clicks and new requests are answered while other
threads' runs compute; the longest of those waits is the number to keep under 1 s.

Usage: ``python benchmarks/bot_load.py --out benchmarks/results [--users 20 --threads 10]``
(``--datasets trec6,banking_dev``, ``--no-restart``, ``--budget 8``, ``--workspace DIR``, ``--timeout 1200``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import select
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes import slack_payloads as payloads  # noqa: E402
from tests.fakes.payload_check import checked_payloads, payload_problems  # noqa: E402
from tests.fakes.slack_server import Call, FakeSlack  # noqa: E402

BOT_TOKEN = "xoxb-0000-1111-load-token-never-logged"
CHANNEL = "C1"
# Small classes, so a run's review round and search take seconds with eda; sms_spam's spam gives a review round of
# over 1,000 samples (557 texts × 5). Each thread asks for a distinct (data set, class, budget).
CLASSES = {"trec6": ("ABBR",), "sms_spam": ("spam",),
           "banking_dev": ("top_up_failed", "card_delivery_estimate", "disposable_card_limits",
                           "pending_cash_withdrawal", "virtual_card_not_working")}
# Answered at once, whatever other threads' runs are doing ("approve all" typed and "resume" are answered when the
# thread's own run has gone on: not counted in the wait).
QUICK = ("request", "status", "cancel", "click_refused", "click")


@dataclass
class Config:
    users: int = 20
    threads: int = 10
    datasets: tuple[str, ...] = ("trec6", "sms_spam", "banking_dev")
    budget: int = 8
    restart: bool = True
    timeout: float = 1200.0
    status_every: float = 4.0
    workspace: Path | None = None


@dataclass
class Interaction:
    kind: str
    thread: int
    user: str
    sent: float
    http_status: int = 0
    ack_seconds: float = 0.0
    answered: float | None = None
    answer: str = ""
    target_ts: str = ""     # the message a click (or a typed decision) is about

    @property
    def wait(self) -> float | None:
        return None if self.answered is None else self.answered - self.sent


@dataclass
class ThreadPlan:
    index: int
    thread_ts: str
    requester: str
    dataset: str
    target: str
    budget: int
    outcome: str = ""
    pages_seen: int = 0
    resumed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def request(self) -> str:
        return f"improve {self.target} on {self.dataset} budget {self.budget}"


# -- the bot process -----------------------------------------------------------------------------------------------

class BotProcess:
    """``autogets bot --http --port 0`` on the workspace; its log (stderr) appended to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    def start(self, timeout: float = 120.0) -> float:
        t0 = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "autogets", "bot", "--http", "--port", "0"],
                                         cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log)
        assert self.proc.stdout is not None
        line = b""
        while time.monotonic() - t0 < timeout and b"\n" not in line:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        text = line.decode("utf-8", "replace")
        if "listening on http://127.0.0.1:" not in text:
            self.stop()
            raise RuntimeError(f"the bot did not start: {text!r}; see {self.log_path}")
        self.port = int(text.split("http://127.0.0.1:")[1].split()[0])
        self.starts += 1
        return time.monotonic() - t0

    def kill(self) -> None:
        """A crash: SIGKILL, no clean-up of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self._reap()

    def _reap(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- the load ------------------------------------------------------------------------------------------------------

class Load:
    def __init__(self, config: Config, slack: FakeSlack, workspace: Path, log_path: Path):
        self.config, self.slack, self.workspace = config, slack, workspace
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": BOT_TOKEN,
               "SLACK_SIGNING_SECRET": payloads.SECRET, "SLACK_API_URL": slack.api_url,
               "AUTOGETS_HOME": str(workspace), "AUTOGETS_NOTIFY_CHANNEL": "CNOTIFY",
               "AUTOGETS_APPROVERS": f"U{config.users:02d}", "AUTOGETS_GENERATOR": "eda", "AUTOGETS_EXECUTOR": "serial",
               "AUTOGETS_BUDGET": str(config.budget), "AUTOGETS_CLASSIFIER": os.environ.get(
                   "AUTOGETS_CLASSIFIER", "linear"),
               "AUTOGETS_BOT_QUEUE_LIMIT": str(config.threads), "AUTOGETS_BOT_PROGRESS_SECONDS": "1.0"}
        for name in ("SLACK_APP_TOKEN", "AUTOGETS_LLM_BASE_URL", "AUTOGETS_DATA_DIRS", "RAY_ADDRESS"):
            env.pop(name, None)
        self.bot = BotProcess(env, log_path)
        self.up = threading.Event()
        self.lock = threading.Lock()
        self.interactions: list[Interaction] = []
        self.plans = self._plans()
        self.users = [f"U{n:02d}" for n in range(1, config.users + 1)]
        self.restart_at: float | None = None
        self.restart_seconds = 0.0
        self.epoch = 0
        self.errors: list[str] = []
        self._ts = 0

    def _plans(self) -> list[ThreadPlan]:
        plans, per_dataset = [], Counter()
        for i in range(self.config.threads):
            dataset = self.config.datasets[i % len(self.config.datasets)]
            k = per_dataset[dataset]
            per_dataset[dataset] += 1
            classes = CLASSES[dataset]
            plans.append(ThreadPlan(index=i, thread_ts=f"1700{i + 1:06d}.000100", requester=f"U{i + 1:02d}",
                                    dataset=dataset, target=classes[k % len(classes)],
                                    budget=self.config.budget + k // len(classes)))
        return plans

    # -- who says what ---------------------------------------------------------------------------------------------

    @property
    def approver(self) -> str:
        """The last user is the approver (``AUTOGETS_APPROVERS``); the first ``threads`` users ask for runs."""
        return self.users[-1]

    def bystander(self, plan: ThreadPlan, n: int) -> str:
        """Someone who did not ask for this thread's run and is not an approver (the users who ask for no run,
        else the requesters of other threads)."""
        others = [u for u in self.users[len(self.plans):-1]] or \
                 [p.requester for p in self.plans if p.requester != plan.requester] or [self.approver]
        return others[(plan.index + n) % len(others)]

    # -- sending ---------------------------------------------------------------------------------------------------

    def _post(self, body: str, content_type: str) -> tuple[int, float]:
        for attempt in range(3):
            self.up.wait(timeout=300)
            port = self.bot.port
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/slack/events", body.encode("utf-8"),
                             payloads.signed_headers(body, content_type=content_type))
                status = conn.getresponse().status
                conn.close()
                return status, time.monotonic() - t0
            except OSError as exc:   # the bot was killed under this request: Slack would retry, so do we
                self.errors.append(f"send attempt {attempt + 1}: {type(exc).__name__}")
                time.sleep(0.5)
        return 0, 0.0

    def _next_ts(self) -> str:
        with self.lock:
            self._ts += 1
            return f"1710{self._ts:06d}.000200"

    def say(self, plan: ThreadPlan, kind: str, text: str, user: str, target_ts: str = "") -> Interaction:
        """A message typed in the thread (the first: a mention that starts the thread)."""
        if kind == "request":
            body = payloads.app_mention(text, user=user, channel=CHANNEL, ts=plan.thread_ts)
        else:
            body = payloads.message(text, user=user, channel=CHANNEL, channel_type="channel", ts=self._next_ts(),
                                    thread_ts=plan.thread_ts)
        return self._send(plan, kind, user, body, "application/json", target_ts)

    def click(self, plan: ThreadPlan, kind: str, message: dict[str, Any], action_id: str, user: str,
              ticked: tuple[int, ...] = ()) -> Interaction:
        body = payloads.block_actions(user=user, channel=CHANNEL, message=message, action_id=action_id,
                                      ticked=ticked)
        return self._send(plan, kind, user, body, "application/x-www-form-urlencoded", message["ts"])

    def _send(self, plan: ThreadPlan, kind: str, user: str, body: str, content_type: str,
              target_ts: str = "") -> Interaction:
        start = len(self.slack.calls)
        item = Interaction(kind=kind, thread=plan.index, user=user, sent=time.monotonic(), target_ts=target_ts)
        item.http_status, item.ack_seconds = self._post(body, content_type)
        item.sent = time.monotonic() - item.ack_seconds   # when the request reached the bot (after any restart wait)
        with self.lock:
            self.interactions.append(item)
        threading.Thread(target=self._await_answer, args=(plan, item, start), daemon=True).start()
        return item

    def _await_answer(self, plan: ThreadPlan, item: Interaction, start: int, timeout: float = 600.0) -> None:
        """The first Web API call that answers ``item`` (a message in its thread, an ephemeral to its user, an
        update of a message in its thread)."""
        deadline = time.monotonic() + timeout
        index = start
        while time.monotonic() < deadline:
            calls = self.slack.calls
            while index < len(calls):
                call = calls[index]
                index += 1
                if call.t >= item.sent and _answers(call, plan, item):
                    item.answered, item.answer = call.t, f"{call.method}: {str(call.args.get('text'))[:120]}"
                    return
            time.sleep(0.02)

    # -- reading the thread ------------------------------------------------------------------------------------

    def thread_calls(self, plan: ThreadPlan) -> list[Call]:
        return [c for c in list(self.slack.calls) if c.args.get("thread_ts") == plan.thread_ts]

    def pages(self, plan: ThreadPlan) -> list[dict[str, Any]]:
        return [{"ts": c.response.get("ts"), "thread_ts": plan.thread_ts, "blocks": c.args["blocks"],
                 "text": c.args.get("text") or ""}
                for c in self.thread_calls(plan)
                if c.method == "chat.postMessage" and str(c.args.get("text") or "").startswith("Review page")]

    def row(self, plan: ThreadPlan) -> dict[str, Any]:
        path = self.workspace / "bot.db"
        if not path.exists():
            return {}
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            with contextlib.suppress(sqlite3.OperationalError):
                row = conn.execute("SELECT * FROM slack_threads WHERE thread_ts = ?", [plan.thread_ts]).fetchone()
                return dict(row) if row else {}
        return {}

    # -- one thread's people ---------------------------------------------------------------------------------------

    def drive(self, plan: ThreadPlan) -> None:
        try:
            self._drive(plan)
        except Exception as exc:  # noqa: BLE001 (reported, the load goes on)
            plan.outcome = f"driver error: {type(exc).__name__}: {exc}"
            self.errors.append(f"thread {plan.index}: {plan.outcome}")

    def _drive(self, plan: ThreadPlan) -> None:
        cfg = self.config
        deadline = time.monotonic() + cfg.timeout
        request = self.say(plan, "request", plan.request, plan.requester)
        handled: set[str] = set()
        decided_at: float | None = None
        last_status = time.monotonic()
        last_resume: float | None = None
        cancelled = False
        said_status = 0
        while time.monotonic() < deadline:
            time.sleep(0.3)
            row = self.row(plan)
            state = row.get("state")
            if state == "finished" and not row.get("review_ts"):
                plan.outcome = "finished"
                return
            if state == "idle" and request.answered and time.monotonic() - request.answered > 15:
                plan.outcome = "not started: " + request.answer   # the agent refused to start it
                return
            pages = [p for p in self.pages(plan) if p["ts"] not in handled]
            if pages and row.get("review_ts") == pages[-1]["ts"]:
                page = pages[-1]
                handled.add(page["ts"])
                plan.pages_seen += 1
                self.click(plan, "click_refused", page, "review:approve_page", self.bystander(plan, 1))
                time.sleep(0.2)
                if plan.pages_seen == 1:
                    self.click(plan, "click", page, "review:approve_page", plan.requester, ticked=(1, 2))
                elif plan.index % 2 == 0:
                    self.say(plan, "approve_all", "approve all", plan.requester, target_ts=page["ts"])
                else:
                    self.click(plan, "click", page, "review:approve_all", self.approver)
                decided_at = time.monotonic()
                continue
            told = self._told_to_resume(plan)
            if (state == "interrupted" or told) and self.epoch and self.up.is_set() and (
                    last_resume is None or time.monotonic() - last_resume > 20):
                last_resume = time.monotonic()   # the restart stopped this run: its requester says resume
                plan.resumed += 1
                if state != "interrupted":
                    plan.notes.append(f"resumed after status said: {told}")
                self.say(plan, "resume", "resume", plan.requester)
                continue
            if (decided_at and row.get("review_ts") and time.monotonic() - decided_at > 90 and self.epoch
                    and self.up.is_set()):   # a decision lost with the killed process: decide again
                page = [p for p in self.pages(plan) if p["ts"] == row["review_ts"] and p["ts"] in handled
                        and not self._typed_decision(plan, p["ts"])]
                if page:
                    plan.notes.append("decided again after the restart")
                    self.click(plan, "click", page[-1], "review:approve_all", self.approver)
                decided_at = time.monotonic()
                continue
            if time.monotonic() - last_status > cfg.status_every and self.up.is_set():
                last_status = time.monotonic()
                said_status += 1
                if not cancelled and state in ("running", "review"):
                    cancelled = True
                    self.say(plan, "cancel", "cancel", self.bystander(plan, 2))
                else:
                    self.say(plan, "status", "status", self.bystander(plan, said_status))
        plan.outcome = f"timeout (state {self.row(plan).get('state')})"

    def _told_to_resume(self, plan: ThreadPlan) -> str:
        """The bot's newest answer to a status in this thread, if it says the run stopped and asks for resume."""
        with self.lock:
            answers = [i.answer for i in self.interactions
                       if i.thread == plan.index and i.kind in ("status", "resume") and i.answered is not None]
        last = answers[-1] if answers else ""
        return last if "resume the thread" in last or "Not applied" in last else ""

    def _typed_decision(self, plan: ThreadPlan, page_ts: str) -> bool:
        with self.lock:
            return any(i.thread == plan.index and i.kind == "approve_all" and i.target_ts == page_ts
                       for i in self.interactions)

    # -- the restart -----------------------------------------------------------------------------------------------

    def restarter(self, threads: list[threading.Thread]) -> None:
        """Kill the bot when a third of the threads have finished (others computing, waiting or queued), then
        start a new one on the same workspace."""
        goal = max(1, len(self.plans) // 3)
        while any(t.is_alive() for t in threads):
            done = sum(1 for p in self.plans if p.outcome == "finished")
            queued = sum(1 for p in self.plans if self.row(p).get("state") == "queued")
            if done >= goal and (queued or done >= len(self.plans) - 1) or \
                    (done >= 1 and len(self.plans) <= 3):
                break
            time.sleep(0.5)
        else:
            return
        self.up.clear()
        self.restart_at = time.monotonic()
        time.sleep(0.3)
        self.bot.kill()
        self.restart_seconds = self.bot.start()
        self.epoch += 1
        self.up.set()

    # -- the run ---------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        first_start = self.bot.start()
        self.up.set()
        threads = [threading.Thread(target=self.drive, args=(p,), name=f"thread-{p.index}") for p in self.plans]
        for i, t in enumerate(threads):
            t.start()
            time.sleep(0.1 if i < len(threads) - 1 else 0)
        restart = None
        if self.config.restart:
            restart = threading.Thread(target=self.restarter, args=(threads,), daemon=True)
            restart.start()
        for t in threads:
            t.join()
        if restart is not None:
            restart.join(timeout=1)
        time.sleep(1.0)   # answers still on their way
        elapsed = time.monotonic() - t0
        self.bot.stop()
        return self.results(elapsed, first_start)

    # -- counting --------------------------------------------------------------------------------------------------

    def results(self, elapsed: float, first_start: float) -> dict[str, Any]:
        runs, models, agent_threads = _read_workspace(self.workspace)
        by_request = Counter((r["dataset"], r["target"], r["budget"]) for r in runs)
        by_run = Counter(m["run_id"] for m in models if m["run_id"])
        statuses = Counter(r["status"] for r in runs)
        finished = sum(statuses[s] for s in ("done", "no_gain", "cancelled"))
        failed = statuses["failed"]
        quick = [i for i in self.interactions if i.kind in QUICK]
        waits = sorted(i.wait for i in quick if i.wait is not None)
        by_kind: dict[str, dict[str, Any]] = {}
        for kind in sorted({i.kind for i in self.interactions}):
            items = [i for i in self.interactions if i.kind == kind]
            w = [i.wait for i in items if i.wait is not None]
            by_kind[kind] = {"sent": len(items), "answered": len(w),
                             "max_wait_s": round(max(w), 3) if w else None,
                             "median_wait_s": round(statistics.median(w), 3) if w else None}
        slowest = max(quick, key=lambda i: i.wait or 0.0, default=None)
        checked = checked_payloads(self.slack.calls)
        problems = payload_problems(self.slack.calls)
        log_bytes = self.bot.log_path.stat().st_size if self.bot.log_path.exists() else 0
        log_text = self.bot.log_path.read_text("utf-8", "replace") if log_bytes else ""
        return {
            "config": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()
                          if k != "workspace"}, "generator": "eda", "executor": "serial",
                       "classifier": os.environ.get("AUTOGETS_CLASSIFIER", "linear")},
            "date": dt.date.today().isoformat(),
            "elapsed_s": round(elapsed, 1),
            "bot_starts": self.bot.starts,
            "bot_start_s": round(first_start, 2),
            "restart_s": round(self.restart_seconds, 2) if self.restart_at else None,
            "requests": {"sent": len(self.interactions),
                         "acked_200": sum(1 for i in self.interactions if i.http_status == 200),
                         "answered": sum(1 for i in self.interactions if i.answered is not None),
                         "unanswered": [asdict(i) | {"wait": None} for i in self.interactions
                                        if i.answered is None][:20],
                         "by_kind": by_kind},
            "runs": {"started": len(runs), "finished": finished, "failed": failed,
                     "resumable": len(runs) - finished - failed, "statuses": dict(statuses),
                     "threads_finished": sum(1 for p in self.plans if p.outcome == "finished"),
                     "threads": len(self.plans), "resumed_by_requester": sum(p.resumed for p in self.plans),
                     "stopped_but_shown_waiting": sum(1 for p in self.plans
                                                      if any("status said" in n for n in p.notes))},
            "duplicates": {"runs": sum(n - 1 for n in by_request.values() if n > 1),
                           "model_versions": sum(n - 1 for n in by_run.values() if n > 1),
                           "models_registered": len(models)},
            "agent_threads": dict(Counter(t["status"] for t in agent_threads)),
            "wait": {"max_quick_reply_s": round(waits[-1], 3) if waits else None,
                     "p50_quick_reply_s": round(statistics.median(waits), 3) if waits else None,
                     "p95_quick_reply_s": round(waits[int(0.95 * (len(waits) - 1))], 3) if waits else None,
                     "slowest": asdict(slowest) if slowest else None,
                     "max_http_ack_s": round(max((i.ack_seconds for i in self.interactions), default=0.0), 3)},
            "log": {"bytes": log_bytes, "lines": log_text.count("\n"),
                    "longest_line": max((len(line) for line in log_text.splitlines()), default=0),
                    "tracebacks": log_text.count("Traceback"),
                    "secret_in_log": BOT_TOKEN in log_text or payloads.SECRET in log_text},
            "payloads": {"checked": len(checked), "by_method": dict(Counter(m for m, _, _ in checked)),
                         "problems": problems[:50], "problem_count": len(problems),
                         "largest_review_round": _largest_round(self.slack.calls)},
            "web_api_calls": dict(Counter(c.method for c in self.slack.calls)),
            "threads": [{"index": p.index, "request": p.request, "requester": p.requester, "outcome": p.outcome,
                         "pages_seen": p.pages_seen, "resumed": p.resumed, "notes": p.notes} for p in self.plans],
            "errors": self.errors[:50],
        }


def _answers(call: Call, plan: ThreadPlan, item: Interaction) -> bool:
    """Whether ``call`` is the bot's first answer to ``item`` (sent in ``plan``'s thread)."""
    args = call.args
    if call.method == "chat.postEphemeral":
        return args.get("user") == item.user and args.get("thread_ts") == plan.thread_ts
    if call.method == "chat.postMessage":
        if args.get("thread_ts") != plan.thread_ts:
            return False
        text = str(args.get("text") or "")
        if item.kind == "request":   # the run's progress message, or "queued at position n", or a refusal
            return text.startswith("Working on ") or "queued" in text or ":no_entry:" in text
        if item.kind in ("click", "approve_all"):
            return False
        # status, cancel, resume: the answer, not something the run posts by itself
        return not (text.startswith(("Review page", "Working on improve")) or "Restarted:" in text)
    if call.method == "chat.update" and item.kind in ("click", "approve_all"):
        return args.get("ts") == item.target_ts   # the page closed with the decision
    return False


def _largest_round(calls: list[Call]) -> int:
    """Samples in the largest review round shown (from "Review page 1/N" and the page size)."""
    largest = 0
    for call in calls:
        text = str(call.args.get("text") or "") if call.method == "chat.postMessage" else ""
        if text.startswith("Review page 1/"):
            with contextlib.suppress(ValueError, IndexError):
                pages = int(text.split("/", 1)[1].split()[0].rstrip(":,"))
                shown = sum(1 for b in call.args.get("blocks", []) for e in b.get("elements", [])
                            if e.get("type") == "checkboxes" for _ in e.get("options", []))
                largest = max(largest, pages * max(shown, 1))
    return largest


def _read_workspace(ws: Path) -> tuple[list[dict], list[dict], list[dict]]:
    runs: list[dict] = []
    models: list[dict] = []
    threads: list[dict] = []
    db = ws / "autogets.db"
    if db.exists():
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            for rid, dataset, status, params in conn.execute("SELECT id, dataset, status, params FROM runs "
                                                             "WHERE kind = 'improve'"):
                p = json.loads(params or "{}")
                runs.append({"id": rid, "dataset": dataset, "status": status, "target": p.get("target"),
                             "budget": p.get("budget")})
            with contextlib.suppress(sqlite3.OperationalError):
                for mid, summary in conn.execute("SELECT id, summary FROM models"):
                    models.append({"id": mid, "run_id": json.loads(summary or "{}").get("run_id")})
    cp = ws / "checkpoints.db"
    if cp.exists():
        with contextlib.closing(sqlite3.connect(f"file:{cp}?mode=ro", uri=True)) as conn:
            with contextlib.suppress(sqlite3.OperationalError):
                threads = [{"thread_id": t, "status": s} for t, s in
                           conn.execute("SELECT thread_id, status FROM agent_threads")]
    return runs, models, threads


def run_load(config: Config) -> dict[str, Any]:
    """The load, on a fresh workspace (``config.workspace`` or a temporary folder); returns the counts."""
    slack = FakeSlack().start()
    tmp = None
    try:
        if config.workspace is None:
            tmp = tempfile.TemporaryDirectory(prefix="autogets-bot-load-")
            workspace = Path(tmp.name) / "ws"
        else:
            workspace = Path(config.workspace)
        workspace.mkdir(parents=True, exist_ok=True)
        load = Load(config, slack, workspace, workspace / "bot.log")
        try:
            return load.run()
        finally:
            load.bot.stop()
    finally:
        slack.stop()
        if tmp is not None:
            tmp.cleanup()


def markdown(result: dict[str, Any]) -> str:
    c, r, req, w = result["config"], result["runs"], result["requests"], result["wait"]
    lines = [f"# Bot load, {result['date']}", "",
             f"`python benchmarks/bot_load.py --users {c['users']} --threads {c['threads']}` — "
             f"data sets {', '.join(c['datasets'])}, generator eda, budget {c['budget']}, executor serial, "
             f"classifier {c['classifier']}, restart {'yes' if c['restart'] else 'no'}; "
             f"{result['elapsed_s']} s in all.", "",
             "| count | value |", "|---|---|",
             f"| requests sent / acked 200 / answered | {req['sent']} / {req['acked_200']} / {req['answered']} |",
             f"| runs started / finished / resumable / failed | {r['started']} / {r['finished']} / "
             f"{r['resumable']} / {r['failed']} |",
             f"| threads finished (of {r['threads']}) | {r['threads_finished']} |",
             f"| runs resumed by their requester after the restart | {r['resumed_by_requester']} |",
             f"| of those, threads that said `resume` again because `status` said the run stopped (the bot "
             f"answers a resume waiting in its queue with its place) | {r['stopped_but_shown_waiting']} |",
             f"| duplicate runs / duplicate model versions | {result['duplicates']['runs']} / "
             f"{result['duplicates']['model_versions']} |",
             f"| model versions registered | {result['duplicates']['models_registered']} |",
             f"| bot processes started / restart took | {result['bot_starts']} / {result['restart_s']} s |",
             f"| log: bytes / lines / longest line / tracebacks | {result['log']['bytes']} / "
             f"{result['log']['lines']} / {result['log']['longest_line']} / {result['log']['tracebacks']} |",
             f"| token or signing secret in the log | {result['log']['secret_in_log']} |",
             f"| Block Kit payloads checked / problems | {result['payloads']['checked']} / "
             f"{result['payloads']['problem_count']} |",
             f"| largest review round (samples) | {result['payloads']['largest_review_round']} |",
             f"| longest wait of a reply behind other threads' runs | {w['max_quick_reply_s']} s |",
             f"| median / p95 wait | {w['p50_quick_reply_s']} s / {w['p95_quick_reply_s']} s |",
             f"| longest HTTP ack | {w['max_http_ack_s']} s |", "",
             "| interaction | sent | answered | max wait (s) | median wait (s) |", "|---|---|---|---|---|"]
    for kind, k in req["by_kind"].items():
        lines.append(f"| {kind} | {k['sent']} | {k['answered']} | {k['max_wait_s']} | {k['median_wait_s']} |")
    lines += ["", "The wait is from the request reaching the bot to the bot's first Web API call answering it. "
              "`approve_all` typed in the thread and `resume` are answered when the thread's own run has gone on "
              "(they wait for their own run, not another thread's), so they are not in the longest-wait line.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--datasets", default="trec6,sms_spam,banking_dev")
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--no-restart", action="store_true")
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--name", default="bot-load", help="file name after the date (default bot-load)")
    args = parser.parse_args(argv)
    datasets = tuple(d.strip() for d in args.datasets.split(",") if d.strip())
    unknown = [d for d in datasets if d not in CLASSES]
    if unknown or args.users < 2 or args.threads < 1:
        parser.error(f"data sets from {', '.join(CLASSES)}; at least 2 users and 1 thread (unknown: {unknown})")
    config = Config(users=args.users, threads=args.threads, datasets=datasets, budget=args.budget,
                    restart=not args.no_restart, timeout=args.timeout, workspace=args.workspace)
    result = run_load(config)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{result['date']}-{args.name}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"written: {stem}.json, {stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
