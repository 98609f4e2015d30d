"""GET /metrics (issue 24 item 3): the bot's Prometheus metrics, scraped over HTTP from the servers that serve it
(the HTTP mode's server, the Socket Mode health listener) after fake-Slack flows with the FakeAgent, and parsed
with prometheus_client's own parser. Every count is the flow's exact amount."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from wsgiref.simple_server import make_server

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics, StepClock
from bot.run import HEALTH_PATH, METRICS_PATH, health_app, http_server
from tests.bot_harness import BOT_TOKEN, Harness, bot_settings

LABELS = {"dataset", "action", "method", "error", "le"}


@contextmanager
def serving(app) -> Iterator[int]:
    """The HTTP mode's server (``/slack/events``, ``/healthz``, ``/metrics``) for ``app`` on 127.0.0.1."""
    server = http_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str = METRICS_PATH, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of every ``autogets_`` sample on ``/metrics``."""
    status, content_type, text = get(port)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4"), (status, content_type)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text)
            if family.name.startswith("autogets_") for s in family.samples}


def value(samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when absent (a labelled counter appears once it moved)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def named(samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_a_flow_moves_each_counter_by_its_exact_amount(slack, tmp_path):
    bot = Harness(slack, bot_settings(tmp_path / "ws"), agent_options={"event_pause": 0.05})
    with serving(bot.app) as port:
        before = scrape(port)
        assert named(before, "autogets_runs_started_total") == {}           # a new process: nothing yet
        assert value(before, "autogets_queue_length", dataset="trec6") == 0

        bot.mention("improve ABBR on trec6", ts="1699999999.000100")       # run 1: generation, review page 1
        page = bot.posted()
        bot.mention("improve LOC on trec6", ts="1699999999.000200")        # waits behind run 1 (queue limit 1)
        bot.mention("improve HUM on trec6", ts="1699999999.000300")        # refused: the queue is full
        slack.fail("chat.update", "ratelimited")                           # the page's closing update: 429 once
        bot.click(page, "review:approve_page", ticked=(2,))               # → page 2
        mid = scrape(port)
        assert value(mid, "autogets_runs_started_total", dataset="trec6") == 1
        assert value(mid, "autogets_queue_length", dataset="trec6") == 1
        assert value(mid, "autogets_runs_active", dataset="trec6") == 1
        assert value(mid, "autogets_review_decisions_total", action="approve_page") == 1
        assert value(mid, "autogets_slack_ratelimit_retries_total", method="chat.update") == 1
        assert named(mid, "autogets_slack_api_errors_total") == {}          # the retry succeeded: no error
        assert value(mid, "autogets_generation_duration_seconds_count", dataset="trec6") == 1
        assert value(mid, "autogets_generation_duration_seconds_sum", dataset="trec6") >= 3 * 0.05
        assert value(mid, "autogets_search_duration_seconds_count", dataset="trec6") == 0

        slack.fail("chat.getPermalink", "channel_not_found")               # the team notification's permalink
        bot.click(_page(bot), "review:approve_page")                          # last page: search
        # run 1 finished; the queued request started (run 2, waiting for review on its page 1)
        end = scrape(port)
        assert value(end, "autogets_runs_finished_total", dataset="trec6") == 1
        assert value(end, "autogets_runs_started_total", dataset="trec6") == 2
        assert value(end, "autogets_queue_length", dataset="trec6") == 0
        assert value(end, "autogets_runs_active", dataset="trec6") == 1
        assert value(end, "autogets_review_decisions_total", action="approve_page") == 2
        assert value(end, "autogets_candidate_evaluations_total", dataset="trec6") == 15   # done 5, 10, 15
        assert value(end, "autogets_search_duration_seconds_count", dataset="trec6") == 1
        assert value(end, "autogets_search_duration_seconds_sum", dataset="trec6") >= 3 * 0.05
        assert value(end, "autogets_generation_duration_seconds_count", dataset="trec6") == 2
        assert named(end, "autogets_slack_api_errors_total") == {
            (("error", "channel_not_found"), ("method", "chat.getPermalink")): 1}

        bot.click(_page(bot), "review:cancel")                              # run 2 cancelled by its requester
        last = scrape(port)
        assert value(last, "autogets_runs_cancelled_total", dataset="trec6") == 1
        assert value(last, "autogets_review_decisions_total", action="cancel") == 1
        assert value(last, "autogets_runs_active", dataset="trec6") == 0
        assert named(last, "autogets_runs_failed_total") == {}


def _page(bot) -> dict:
    """The newest review page the bot posted in a run's thread."""
    calls = [c for c in bot.slack.calls_to("chat.postMessage") if "review:approve_page" in str(c.args.get("blocks"))]
    call = calls[-1]
    return {"ts": call.response["ts"], "thread_ts": call.args.get("thread_ts"), "blocks": call.args["blocks"],
            "text": call.args.get("text"), "channel": call.args["channel"]}


@pytest.mark.reliability   # SECURITY.md
def test_refused_and_stale_clicks_are_not_counted_as_decisions(slack, tmp_path):
    bot = Harness(slack, bot_settings(tmp_path / "ws"))
    with serving(bot.app) as port:
        bot.mention("improve ABBR on trec6")
        page = bot.posted()
        bot.click(page, "review:approve_all", user="UMALLORY")              # neither requester nor approver
        bot.click(page, "review:approve_all")                               # applied: the run finishes
        bot.click(page, "review:approve_all")                               # stale: already decided
        samples = scrape(port)
    assert named(samples, "autogets_review_decisions_total") == {(("action", "approve_all"),): 1}
    assert value(samples, "autogets_runs_finished_total", dataset="trec6") == 1


def test_a_failed_run_is_counted_by_its_thread_data_set(slack, tmp_path):
    bot = Harness(slack, bot_settings(tmp_path / "ws"), agent_options={"fail_search": True})
    with serving(bot.app) as port:
        bot.mention("improve spam on sms_spam")
        bot.click(bot.posted(), "review:approve_all")
        samples = scrape(port)
    # the agent's "failed" notification names no data set: the thread's is used
    assert named(samples, "autogets_runs_failed_total") == {(("dataset", "sms_spam"),): 1}
    assert named(samples, "autogets_runs_finished_total") == {}
    assert value(samples, "autogets_runs_active", dataset="sms_spam") == 0


@pytest.mark.reliability   # SECURITY.md
def test_metrics_hold_no_token_user_channel_or_text(slack, tmp_path):
    bot = Harness(slack, bot_settings(tmp_path / "ws"), agent_options={"hostile": True})
    with serving(bot.app) as port:
        bot.mention("improve ABBR on trec6", user="USECRETUSER")
        slack.fail("chat.update", "invalid_auth xoxb-0000-1111-leak")       # an error code that is not a code
        bot.click(bot.posted(), "review:approve_all", user="USECRETUSER")
        status, _, text = get(port)
        samples = scrape(port)
    assert status == 200
    for needle in (BOT_TOKEN, "xoxb-", "USECRETUSER", "UAPPROVER", "C1", "CNOTIFY", "1699999999", "improve ABBR",
                   "ping everyone", "what does", "run1", "fake-run1"):
        assert needle not in text, needle
    families = list(text_string_to_metric_families(text))
    assert {name for s in families if s.name.startswith("autogets_") for sample in s.samples
            for name in sample.labels} <= LABELS
    # the malformed error code is "other", the method is the Web API method
    assert named(samples, "autogets_slack_api_errors_total") == {(("error", "other"), ("method", "chat.update")): 1}
    allowed_values = {"trec6", "approve_all", "other", "chat.update"}
    assert {v for (name, labels) in samples for k, v in labels if k != "le"} <= allowed_values


def test_the_socket_mode_health_listener_serves_metrics_only_when_given():
    metrics = Metrics()
    metrics.notified("run_started", "trec6")
    for given, expected in ((metrics, 200), (None, 404)):
        server = make_server("127.0.0.1", 0, health_app(lambda: True, given))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            status, _, text = get(server.server_port)
            assert status == expected
            assert get(server.server_port, HEALTH_PATH)[:1] == (200,)
            if given is not None:
                families = {f.name: f for f in text_string_to_metric_families(text)}
                assert families["autogets_runs_started"].samples[0].value == 1   # the parser drops _total
                assert "process_cpu_seconds" in families       # the process collector, on our own registry
                status, content_type, _ = get(server.server_port,
                                              headers={"Accept": "application/openmetrics-text; version=1.0.0"})
                assert status == 200 and content_type.startswith("application/openmetrics-text")
        finally:
            server.shutdown()
            server.server_close()


def test_each_bot_has_its_own_registry():
    one, two = Metrics(), Metrics()
    one.decided("approve_all")
    one.decided("<script>")
    assert b'autogets_review_decisions_total{action="approve_all"} 1.0' in one.exposition()[0]
    assert b'action="other"' in one.exposition()[0]
    assert b"autogets_review_decisions_total{" not in two.exposition()[0]


def test_the_step_clock_times_each_step_from_the_end_of_the_one_before():
    metrics, now = Metrics(), [100.0]
    clock = StepClock(metrics, "trec6", clock=lambda: now[0])
    for at, event in ((101.0, {"step": "parse"}), (103.0, {"step": "plan"}),           # parse 1 s, plan 2 s
                      (110.0, {"step": "generate", "done": 10, "total": 30}),           # generate from 103
                      (120.0, {"step": "generate", "done": 30, "total": 30})):
        now[0] = at
        clock.event(event)
    now[0] = 125.0                                                                      # the page is shown
    clock.close()
    clock.close()                                                                       # once only
    text = metrics.exposition()[0].decode()
    assert 'autogets_generation_duration_seconds_sum{dataset="trec6"} 22.0' in text   # 103 → 125
    assert 'autogets_generation_duration_seconds_count{dataset="trec6"} 1.0' in text
    assert "autogets_search_duration_seconds_count{" not in text

    search = StepClock(metrics, "trec6", clock=lambda: now[0])
    for at, event in ((130.0, {"step": "search", "phase": "1/2", "done": 20, "total": 50}),
                      (140.0, {"step": "search", "phase": "1/2", "done": 50, "total": 50}),
                      (141.0, {"step": "search", "phase": "1/2", "decision": "accepted"}),
                      (150.0, {"step": "search", "phase": "2/2", "done": 7, "total": 50}),
                      (150.5, {"step": "search", "phase": "2/2", "done": 7, "total": 50}),  # repeated: no double
                      (160.0, {"step": "report"})):
        now[0] = at
        search.event(event)
    now[0] = 170.0
    search.close()
    text = metrics.exposition()[0].decode()
    assert 'autogets_search_duration_seconds_sum{dataset="trec6"} 25.5' in text       # 125 → 150.5
    assert 'autogets_candidate_evaluations_total{dataset="trec6"} 57.0' in text
