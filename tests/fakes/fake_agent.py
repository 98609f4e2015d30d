"""FakeAgent: the agent service API (``agent.service.Agent``) without LangGraph, search or generation.

For the bot's tests (fast, deterministic). Same methods and values (``agent.api``): ``thread_for``, ``ask``,
``review``, ``pending_reviews``, ``threads``, and the same rules as the real agent: only the requester or an
approver may review, promote or roll back (else ``status="refused"``); a decision carrying the token of a page that
is no longer waiting is answered ``status="answer"`` (applied once); ``status`` in a thread that waits for review
shows the same page again; with ``promote_approval`` a ``promote`` waits for an approver other than the requester
(``awaiting_promotion``, decided with ``review``). Its state is a JSON file in the workspace, so a new FakeAgent on
the same workspace continues where the last one stopped (like the real agent's checkpoints).

``improve …`` is read by the agent's own grammar (:func:`agent.requests.parse_command`, bundled data sets) and
emits ``events`` progress events (``event_pause`` seconds apart; each ``on_event`` call's duration is kept in
``event_seconds``) and returns page 1 of ``pages`` review pages of
``page_size`` samples; approving the last page (or ``approve all``) finishes the run with a report, three PNGs and
a ``model_registered`` notification. ``explode`` raises, to test the bot's error path. Like the real agent, a
cancel notifies ``cancelled``, and with ``fail_search`` the search step fails: ``failed`` notified, a ``failed``
turn.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.api import NullNotifier, ReviewDecision, ReviewPage, ReviewSample, Turn
from agent.requests import Catalog, Clarify, parse_command

HELP = ("Commands: improve CLASS on DATASET [objective recall] [budget N] [generator eda] · improve DATASET · "
        "diagnose DATASET · status [run] · models DATASET · promote MODEL · rollback DATASET · help. "
        "In a run's thread: status, cancel, approve all.")
HOSTILE = ("<!channel> ping everyone", "hi <@U1> there", "click <http://evil.example|here>", "fish &<> chips")
DATASETS = ("trec6", "sms_spam")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
Sink = Callable[[dict], None] | None
_CATALOG = Catalog.bundled()


class FakeAgent:
    def __init__(self, workspace: Path, *, notifier: Any = None, approvers: frozenset[str] = frozenset(),
                 pages: int = 2, page_size: int = 3, events: int = 3, hostile: bool = False,
                 promote_approval: bool = False, text_chars: int = 0, answer_chars: int = 0,
                 stop_after_decision: bool = False, event_pause: float = 0.0, fail_search: bool = False,
                 stop_before_review: bool = False):
        self.workspace = Path(workspace)
        self.notifier = notifier or NullNotifier()
        self.approvers = approvers
        self.pages, self.page_size, self.events, self.hostile = pages, page_size, events, hostile
        self.promote_approval = promote_approval
        self.text_chars, self.answer_chars = text_chars, answer_chars   # long sample texts; a long "report" answer
        self.stop_after_decision = stop_after_decision   # a decision is applied, then the run stops (LLM gone)
        self.stop_before_review = stop_before_review     # a new run stops resumably before its first page
        self.event_pause = event_pause                  # seconds between two progress events (a slower run)
        self.fail_search = fail_search                  # the search step fails (after its progress events)
        self.event_seconds: list[float] = []            # how long each on_event call took (the run waited)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._path = self.workspace / "fake_agent.json"
        self._state = json.loads(self._path.read_text()) if self._path.exists() else {"threads": {}, "models": {}}

    # -- the service API -----------------------------------------------------------------------------------------

    @staticmethod
    def thread_for(conversation: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, conversation))

    def ask(self, conversation: str, text: str, *, user: str, on_event: Sink = None) -> Turn:
        thread_id = self.thread_for(conversation)
        self.calls.append(("ask", {"conversation": conversation, "text": text, "user": user}))
        on_event = self._timed(on_event)
        words = text.strip().split()
        low = [w.lower() for w in words]
        run = self._thread(thread_id)
        waiting = run.get("waiting") if run else None
        if waiting:  # like the real agent: a waiting thread only takes cancel / approve all / status
            if low in (["cancel"], ["approve", "all"]):
                action = "cancel" if low == ["cancel"] else "approve_all"
                return self._decide(thread_id, ReviewDecision(action), user, on_event)
            if low == ["status"] and waiting["kind"] == "review":
                return Turn(thread_id, "review", "A run in this thread waits for review.", run_id=run["run_id"],
                            review=self._page(run), requester=run["requester"])
            return Turn(thread_id, "answer", "A run in this thread waits for review: answer the page, or say cancel.")
        if on_event and words:  # a new command is streamed: the agent echoes what it understood
            on_event({"step": "parse", "command": " ".join(words)})
        if not words or low == ["help"]:
            return Turn(thread_id, "answer", HELP)
        if low[0] == "explode":
            raise RuntimeError("the fake agent exploded")
        if low[0] == "improve":
            return self._improve(conversation, thread_id, text, user, on_event)
        if low == ["resume"] and run and run["status"] == "stopped":   # a run a dead process left computing
            if user != run["requester"] and user not in self.approvers:
                return Turn(thread_id, "refused", "Only the requester or an approver may resume this run.",
                            run_id=run["run_id"], requester=run["requester"])
            with self._lock:
                run["status"] = "done"
                self._save()
            return self._finish(thread_id, user, on_event)
        if low == ["status"]:
            text = f"Run {run['run_id']} ({run['target']} on {run['dataset']}): {run['status']}" if run else \
                "No run in this thread."
            return Turn(thread_id, "answer", text, run_id=run and run["run_id"])
        if low in (["cancel"], ["approve", "all"]):
            return Turn(thread_id, "answer", "Nothing in this thread waits for review.")
        if low == ["report"] and self.answer_chars:   # a run's whole report as an answer
            lines = [f"| row {i} | {'x' * 80} |" for i in range(self.answer_chars // 90)]
            return Turn(thread_id, "answer", "\n".join(lines), run_id=run and run["run_id"],
                        report={"report_dir": str(self.workspace / "reports" / "fake-run1")})
        if low[0] == "promote" and len(words) == 2:
            return self._promote(thread_id, conversation, words[1], user)
        if low[0] == "rollback" and len(words) == 2:
            return self._rollback(thread_id, conversation, words[1], user)
        return Turn(thread_id, "answer", f"I did not understand {text!r}. {HELP}")

    def review(self, thread_id: str, decision: ReviewDecision, *, user: str, on_event: Sink = None) -> Turn:
        self.calls.append(("review", {"thread_id": thread_id, "decision": decision.to_dict(), "user": user}))
        on_event = self._timed(on_event)
        return self._decide(thread_id, decision, user, on_event)

    def pending_reviews(self) -> list[ReviewPage]:
        with self._lock:
            return [self._page(t) for t in self._state["threads"].values()
                    if (t.get("waiting") or {}).get("kind") == "review"]

    def threads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"thread_id": tid, "conversation": t["conversation"], "requester": t.get("requester"),
                     "run_id": t.get("run_id"), "status": t["status"], "command": t.get("command"),
                     "updated_at": t["updated_at"]} for tid, t in self._state["threads"].items()]

    def stop(self, conversation: str) -> None:
        """Test hook: the process died while the thread's run computed after a decision (no page waits)."""
        with self._lock:
            run = self._state["threads"][self.thread_for(conversation)]
            run["waiting"], run["status"] = None, "stopped"
            self._save()

    # -- behaviour -----------------------------------------------------------------------------------------------

    def _improve(self, conversation: str, thread_id: str, text: str, user: str, on_event: Sink) -> Turn:
        request = parse_command(text, _CATALOG)   # like the real agent: the grammar, then the catalog check
        if isinstance(request, Clarify):
            return Turn(thread_id, "answer", f"I did not understand {text!r}: {request.message}")
        target, dataset = request.target or "ABBR", request.dataset or ""   # no target: "the weakest class"
        if dataset not in DATASETS:
            return Turn(thread_id, "answer", f"Unknown data set {dataset!r}; bundled: {', '.join(DATASETS)}.")
        words = request.command(full=False).split()
        with self._lock:
            run_id = f"run{len(self._state['threads']) + 1}"
            self._state["threads"][thread_id] = {
                "conversation": conversation, "run_id": run_id, "dataset": dataset, "target": target,
                "requester": user, "command": " ".join(words), "status": "review", "page": 1, "pages": self.pages,
                "regenerations": 2, "decisions": [], "updated_at": _now()}
            run = self._state["threads"][thread_id]
            run["waiting"] = {"kind": "review", "token": self._token(run)}
            self._save()
        self.notifier.notify("run_started", self._payload(thread_id, actor=user))
        for i in range(self.events):
            time.sleep(self.event_pause)
            if on_event:
                on_event({"step": "generate", "done": (i + 1) * 10, "total": self.events * 10})
        if self.stop_before_review:  # like the real agent: a Resumable step; the thread can be resumed
            with self._lock:
                run["waiting"], run["status"] = None, "stopped"
                self._save()
            return Turn(thread_id, "running", "The run stopped: the LLM server went away. Say resume in this thread "
                                              "to continue from that step.", run_id=run["run_id"],
                        requester=run["requester"])
        self.notifier.notify("review_needed", self._payload(thread_id, actor=user))
        return self._review_turn(thread_id)

    def _decide(self, thread_id: str, decision: ReviewDecision, user: str, on_event: Sink) -> Turn:
        run = self._thread(thread_id)
        waiting = (run or {}).get("waiting")
        if not waiting:
            return Turn(thread_id, "answer", "Nothing in this thread waits for a decision (already decided, or "
                                             "finished).")
        if decision.token and decision.token != waiting["token"]:
            return Turn(thread_id, "answer", "That page was already decided; the current page is shown below.",
                        run_id=run["run_id"], review=self._page(run) if waiting["kind"] == "review" else None)
        if waiting["kind"] == "promotion":
            return self._decide_promotion(thread_id, run, waiting, decision, user)
        if user != run["requester"] and user not in self.approvers:
            return Turn(thread_id, "refused", "Only the requester or an approver may review this run.",
                        run_id=run["run_id"], requester=run["requester"])
        with self._lock:
            run["decisions"].append({**decision.to_dict(), "page": run["page"], "user": user})
            if decision.action == "cancel":
                run["status"] = "cancelled"
            elif decision.action == "regenerate":
                run["regenerations"] -= 1
            elif decision.action == "approve_all" or run["page"] >= run["pages"]:
                run["status"] = "done"
            else:
                run["page"] += 1
            run["waiting"] = {"kind": "review", "token": self._token(run)} if run["status"] == "review" else None
            run["updated_at"] = _now()
            self._save()
        if run["status"] == "cancelled":
            self.notifier.notify("cancelled", {"run_id": run["run_id"], "actor": user,
                                               "conversation": run["conversation"]})
            return Turn(thread_id, "cancelled", f"Run {run['run_id']} cancelled.", run_id=run["run_id"])
        if self.stop_after_decision:  # like the real agent: the stored run's state, requester included
            return Turn(thread_id, "running", "The run stopped: the LLM server went away. Say resume in this thread "
                                              "to continue from that step.", run_id=run["run_id"],
                        requester=run["requester"], data={"model_id": None, "command": run["command"]})
        if run["status"] == "review":
            return self._review_turn(thread_id)
        return self._finish(thread_id, user, on_event)

    def _finish(self, thread_id: str, user: str, on_event: Sink) -> Turn:
        run = self._thread(thread_id)
        for i in range(self.events):
            time.sleep(self.event_pause)
            if on_event:
                on_event({"step": "search", "phase": "1/1 SW", "done": (i + 1) * 5, "total": self.events * 5,
                          "best_gain": 0.01 * (i + 1)})
        if self.fail_search:  # like the real agent's guarded step: the run is failed, the team told
            reason = "the search step failed (fake)"
            with self._lock:
                run["status"] = "failed"
                self._save()
            self.notifier.notify("failed", {"run_id": run["run_id"], "reason": reason,
                                            "conversation": run["conversation"]})
            return Turn(thread_id, "failed", f"The run failed: {reason}", run_id=run["run_id"])
        with self._lock:
            versions = self._state["models"].setdefault(run["dataset"], {"production": None, "versions": []})
            model_id = f"{run['dataset']}-v{len(versions['versions']) + 1}"
            versions["versions"].append({"id": model_id, "requester": run["requester"]})
            run["model_id"] = model_id
            self._save()
        folder = self.workspace / "reports" / f"fake-{run['run_id']}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for name in ("per_class", "best_so_far", "pca_map"):
            (folder / f"{name}.png").write_bytes(PNG)
            files[name] = str(folder / f"{name}.png")
        (folder / "report.md").write_text("# report\n")
        files["markdown"] = str(folder / "report.md")
        target = run["target"]
        report = {
            "run_id": run["run_id"], "dataset": run["dataset"], "class": target,
            "plan": [{"phase": "GA", "why": "small class with low recall" + (" " + HOSTILE[0] if self.hostile else "")},
                     {"phase": "SW", "why": "refine around the GA's best selection"}],
            "plan_source": "default rules",
            "test": {"rows": [{"class": c, "support": s, "cba_m0": m0, "cba_new": new, "delta": new - m0}
                              for c, s, m0, new in ((target, 17, 0.882, 0.910), ("HUM", 260, 0.930, 0.931),
                                                    ("LOC" if not self.hostile else HOSTILE[3], 170, 0.936, 0.935))],
                     "class_cba_gain": 0.028, "interval": [-0.010, 0.060], "support": 17, "few_examples": True,
                     "accuracy_m0": 0.853, "accuracy_new": 0.854},
            "model_id": model_id, "budget": {"evaluations": 200, "reused": 12, "fit_seconds": 34.2}, "files": files}
        payload = self._payload(thread_id, actor=user, model_id=model_id, gain=0.028, interval=[-0.010, 0.060])
        self.notifier.notify("finished", payload)
        self.notifier.notify("model_registered", payload)
        return Turn(thread_id, "done", f"{target} on {run['dataset']}: +0.028 class CBA on test; registered "
                                       f"{model_id}.", run_id=run["run_id"], report=report,
                    requester=run["requester"], data={"model_id": model_id})

    def _promote(self, thread_id: str, conversation: str, model_id: str, user: str) -> Turn:
        with self._lock:
            found = [(ds, entry, v) for ds, entry in self._state["models"].items() for v in entry["versions"]
                     if v["id"] == model_id]
            if not found:
                return Turn(thread_id, "answer", f"No model {model_id!r}.")
            dataset, entry, version = found[0]
            if user != version["requester"] and user not in self.approvers:
                return Turn(thread_id, "refused", "Only the requester or an approver may promote this model.")
            if entry["production"] == model_id:
                return Turn(thread_id, "answer", f"{model_id} is already in production.")
            if self.promote_approval:
                run = self._state["threads"].setdefault(thread_id, {
                    "conversation": conversation, "run_id": None, "status": "answer", "updated_at": _now()})
                run["waiting"] = {"kind": "promotion", "token": f"promote:{model_id}", "model_id": model_id,
                                  "requester": user, "dataset": dataset}
                self._save()
                return Turn(thread_id, "awaiting_promotion", f"{model_id} waits for a second approval before "
                                                             "production.", data={"model_id": model_id,
                                                                                  "token": f"promote:{model_id}"})
        return self._production(thread_id, conversation, dataset, model_id, user)

    def _decide_promotion(self, thread_id: str, run: dict, waiting: dict, decision: ReviewDecision,
                          user: str) -> Turn:
        if user not in self.approvers or user == waiting["requester"]:
            return Turn(thread_id, "refused", "Only an approver other than the requester may decide this.")
        with self._lock:
            run["waiting"] = None
            self._save()
        if not decision.action.startswith("approve"):
            return Turn(thread_id, "answer", f"{waiting['model_id']} stays a candidate ({user} declined).")
        return self._production(thread_id, run["conversation"], waiting["dataset"], waiting["model_id"], user)

    def _production(self, thread_id: str, conversation: str, dataset: str, model_id: str, user: str) -> Turn:
        with self._lock:
            self._state["models"][dataset]["production"] = model_id
            self._save()
        self.notifier.notify("promoted", {"dataset": dataset, "model_id": model_id, "gain": 0.028,
                                          "interval": [-0.010, 0.060], "actor": user, "conversation": conversation})
        return Turn(thread_id, "answer", f"{model_id} is now in production for {dataset}.")

    def _rollback(self, thread_id: str, conversation: str, dataset: str, user: str) -> Turn:
        if user not in self.approvers:
            return Turn(thread_id, "refused", "Only an approver may roll back.")
        self.notifier.notify("rolled_back", {"dataset": dataset, "model_id": f"{dataset}-v0", "actor": user,
                                             "previous": f"{dataset}-v1", "conversation": conversation})
        return Turn(thread_id, "answer", f"Rolled back {dataset}.")

    # -- helpers -------------------------------------------------------------------------------------------------

    def _timed(self, on_event: Sink) -> Sink:
        """``on_event``, keeping how long each call held up the run."""
        if on_event is None:
            return None
        sink = on_event

        def timed(event: dict) -> None:
            started = time.monotonic()
            try:
                sink(event)
            finally:
                self.event_seconds.append(time.monotonic() - started)
        return timed

    def _review_turn(self, thread_id: str) -> Turn:
        page = self._page(self._thread(thread_id))
        return Turn(thread_id, "review", f"Page {page.page}/{page.pages} of {page.target} waits for a review.",
                    run_id=page.run_id, review=page, requester=page.requester)

    @staticmethod
    def _token(run: dict[str, Any]) -> str:
        return f"{run['run_id']}-p{run['page']}-r{run['regenerations']}"

    def _page(self, run: dict[str, Any]) -> ReviewPage:
        samples = []
        for i in range(self.page_size):
            text = HOSTILE[i % len(HOSTILE)] if self.hostile else f"what does {run['target']} {i} stand for ?"
            text += " and more" * (self.text_chars // 9)
            samples.append(ReviewSample(number=i + 1, key=f"{self._token(run)}-{i}", source_id=100 + i,
                                        source_text=f"What does source {i} mean ?", text=text))
        totals = {"generated": 55, "kept": 50, "dropped": {"duplicate": 3, "empty": 2}, "approved": 0,
                  "rejected": 0, "pending": 50}
        return ReviewPage(run_id=run["run_id"], dataset=run["dataset"], target=run["target"], page=run["page"],
                          pages=run["pages"], samples=tuple(samples), totals=totals,
                          regenerations_left=run["regenerations"], requester=run["requester"],
                          token=self._token(run), page_samples=self.page_size)

    def _thread(self, thread_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._state["threads"].get(thread_id)

    def _payload(self, thread_id: str, **extra: Any) -> dict[str, Any]:
        run = self._thread(thread_id)
        return {"dataset": run["dataset"], "class": run["target"], "run_id": run["run_id"], "model_id": None,
                "gain": None, "interval": None, "conversation": run["conversation"], **extra}

    def _save(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._path.write_text(json.dumps(self._state))

    def decisions(self) -> list[dict[str, Any]]:
        """Every review decision applied, over all threads (for assertions)."""
        with self._lock:
            return [d for t in self._state["threads"].values() for d in t.get("decisions", [])]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
