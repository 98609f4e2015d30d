"""Job runner (per-key order, one run per data set, queue with positions, refusal when full), the throttled
progress message, the thread table, and the small text helpers of the bridge."""

from __future__ import annotations

import threading
import time

import pytest

from bot.jobs import JobRunner
from bot.progress import ProgressMessage
from bot.texts import clean_text, rejected_from_state
from bot.threads import SlackThread, ThreadRow, ThreadStore


@pytest.mark.reliability
def test_jobs_with_one_key_run_in_order_one_at_a_time():
    runner = JobRunner(workers=4)
    seen, active, peak = [], [0], [0]
    lock = threading.Lock()

    def job(i):
        def run():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.01)
            seen.append(i)
            with lock:
                active[0] -= 1
        return run

    for i in range(6):
        runner.submit("conversation", job(i))
    assert runner.wait_idle(10)
    assert seen == list(range(6)) and peak[0] == 1
    runner.shutdown()


def test_a_failing_job_does_not_stop_the_next_one():
    runner = JobRunner()
    seen = []
    runner.submit("k", lambda: 1 / 0)
    runner.submit("k", lambda: seen.append("after"))
    assert runner.wait_idle(10) and seen == ["after"]


@pytest.mark.reliability
def test_one_run_per_data_set_then_a_queue_with_positions_then_refusal():
    runner = JobRunner(runs_per_dataset=1, queue_limit=2)
    started = []
    start = started.append
    assert runner.admit("trec6", "a", start).status == "started"
    assert runner.admit("sms_spam", "x", start).status == "started"          # another data set
    b = runner.admit("trec6", "b", start)
    c = runner.admit("trec6", "c", start)
    assert (b.status, b.position, b.running) == ("queued", 1, 1) and (c.status, c.position) == ("queued", 2)
    assert runner.admit("trec6", "b", start).position == 1                   # asking again keeps its place
    d = runner.admit("trec6", "d", start)
    assert d.status == "refused" and "1 run(s) going and 2 waiting" in d.reason
    assert runner.wait_idle(5) and sorted(started) == ["a", "x"]
    runner.release("trec6", "a")
    assert runner.wait_idle(5) and started[-1] == "b"
    assert runner.running("trec6") == {"b"} and runner.waiting("trec6") == ["c"]


def test_configured_concurrency_per_data_set():
    runner = JobRunner(runs_per_dataset=2, queue_limit=0)
    assert [runner.admit("trec6", o, lambda _: None).status for o in "abc"] == ["started", "started", "refused"]


class _Client:
    def __init__(self):
        self.updates = []

    def chat_update(self, **kwargs):
        self.updates.append((time.monotonic(), kwargs))


def _shown(update):
    return str(update[1]["blocks"][1]["elements"][0]["text"])


def test_progress_updates_at_most_once_per_interval_and_the_last_state_is_shown():
    client = _Client()
    progress = ProgressMessage(client, "C1", "1.1", request="improve ABBR on trec6", user="U1", interval=0.3)
    posted = time.monotonic()
    for i in range(10):                         # ten events within the first interval: one trailing update
        progress.update({"step": "generate", "done": i + 1, "total": 10})
        time.sleep(0.01)
    assert client.updates == []
    time.sleep(0.5)
    assert len(client.updates) == 1 and "10/10" in _shown(client.updates[0])
    assert client.updates[0][0] - posted >= 0.3 - 0.01
    progress.update({"step": "search", "done": 1, "total": 200})
    time.sleep(0.4)
    assert len(client.updates) == 2             # more than an interval later: sent at once
    progress.update({"step": "search", "done": 2, "total": 200})
    progress.finish("review")                   # the final state is always sent (now), and nothing after it
    assert len(client.updates) == 3 and "Waiting for a review" in _shown(client.updates[-1])
    progress.update({"step": "search", "done": 3, "total": 200})
    progress.flush()
    assert len(client.updates) == 3
    times = [t for t, _ in client.updates[:2]]
    assert all(b - a >= 0.3 - 0.01 for a, b in zip(times, times[1:], strict=False))


def test_thread_rows_survive_a_new_store(tmp_path):
    where = SlackThread("T1", "C1", "1.2")
    store = ThreadStore(tmp_path)
    store.save(ThreadRow(conversation=where.conversation, thread_id="tid", team="T1", channel="C1",
                         thread_ts="1.2", requester="U1", dataset="trec6", state="review", review_ts="1.3",
                         review_page=2))
    store.close()
    again = ThreadStore(tmp_path)
    row = again.by_thread_id("tid")
    assert row.where == where and row.review_page == 2 and row.state == "review"
    assert [r.conversation for r in again.active("trec6")] == [where.conversation]
    assert again.update(where.conversation, state="running").state == "running"
    assert [r.conversation for r in again.mark_interrupted()] == [where.conversation]
    assert again.get(where.conversation).state == "interrupted" and again.active() == []
    assert (tmp_path / "bot.db").exists()


def test_clean_text_removes_the_bot_mention_and_unescapes():
    assert clean_text("<@UBOT> improve  ABBR on trec6 &amp; &lt;x&gt; <@U2>", "UBOT") == \
        "improve ABBR on trec6 & <x> <@U2>"


def test_rejected_samples_read_from_the_checkbox_state():
    state = {"b0": {"review_rejects_0": {"type": "checkboxes", "selected_options": [
        {"value": "2:key-b"}, {"value": "1:key-a"}]}, "other": {"selected_options": [{"value": "9:x"}]}},
        "b1": {"review_rejects_1": {"type": "checkboxes", "selected_options": [{"value": "11:key-k"}]}}}
    assert rejected_from_state(state) == [(1, "key-a"), (2, "key-b"), (11, "key-k")]


def test_the_queued_notice_runs_before_the_queued_run_starts_however_soon_the_slot_frees():
    runner = JobRunner(runs_per_dataset=1, queue_limit=1)
    seen, gate = [], threading.Event()
    runner.admit("trec6", "a", lambda _: None)

    def queued(admission):
        gate.wait(5)
        seen.append(f"queued {admission.position}")

    assert runner.admit("trec6", "b", lambda _: seen.append("start"), on_queued=queued).status == "queued"
    runner.release("trec6", "a")                   # the slot frees before the notice has run
    gate.set()
    assert runner.wait_idle(5) and seen == ["queued 1", "start"]
