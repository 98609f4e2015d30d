"""Fake Slack Web API (stdlib only) for the bot's tests: real slack_sdk / Bolt clients talk to it over HTTP.

Usage:
    with fake_slack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        ...
        slack.methods()            # ["auth.test", "chat.postMessage", ...] in call order
        slack.calls_to("chat.update")[-1].args["blocks"]

Serves on 127.0.0.1 (ephemeral port, one thread per request). Every call is recorded as a :class:`Call`: the Web
API method, its arguments parsed from the form or JSON body (``blocks``, ``view``, ``files`` decoded from JSON
strings), and whether a bot token was presented (the token itself is never stored). Implemented: auth.test,
chat.postMessage / update / postEphemeral / getPermalink, files.getUploadURLExternal + the upload URL it returns
(served here) + files.completeUploadExternal, views.publish, conversations.info, users.info,
usergroups.users.list; POSTs to ``/hooks/...`` (response_url) are recorded as method ``response_url``.
``slack.fail(method, error)`` makes the next call of ``method`` answer ``{"ok": false, "error": error}``;
``slack.fail(method, "ratelimited")`` answers HTTP 429 with ``Retry-After: 0`` as Slack does (``retry_after=2``:
``Retry-After: 2``). ``views.open`` behaves as Slack's: it needs a ``trigger_id`` that was not used before and not
expired (``slack.expire(trigger_id)``; Slack's expire 3 s after the click) — else ``invalid_arguments``,
``exchanged_trigger_id`` or ``expired_trigger_id`` — and a view that passes :func:`tests.fakes.block_kit.problems`
(else ``invalid_arguments`` with the problems in ``response_metadata.messages``). Like real Slack, a message whose
blocks hold more text than
:data:`tests.fakes.block_kit.MESSAGE_BLOCK_TEXT` is refused with
``msg_blocks_too_long`` (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.block_kit import MESSAGE_BLOCK_TEXT, block_text_length, problems

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T1"
_JSON_FIELDS = ("blocks", "view", "files", "attachments")
_MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    authorized: bool
    response: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self, usergroups: dict[str, list[str]] | None = None):
        self.calls: list[Call] = []
        self.usergroups = usergroups or {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self._failures: dict[str, list[tuple[str, int]]] = {}
        self._views = itertools.count(1)
        self._used_triggers: set[str] = set()
        self._expired_triggers: set[str] = set()
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- public --------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def methods(self, *, include_uploads: bool = False) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls if include_uploads or c.method != "upload"]

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def fail(self, method: str, error: str = "internal_error", *, retry_after: int = 0) -> None:
        """The next call of ``method`` fails with ``error`` (``ratelimited``: HTTP 429 with ``Retry-After``)."""
        with self._lock:
            self._failures.setdefault(method, []).append((error, retry_after))

    def expire(self, trigger_id: str) -> None:
        """``trigger_id`` is expired from now on (Slack's expire 3 seconds after the click that made them)."""
        with self._lock:
            self._expired_triggers.add(trigger_id)

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"{method} called {len(self.calls_to(method))} times, expected {count}: "
                             f"{self.methods()}")

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # -- internals -----------------------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = h.path.split("?", 1)[0]
        authorized = str(h.headers.get("Authorization", "")).startswith("Bearer xoxb-")
        if path.startswith("/upload/"):
            self._record(Call("upload", {"file_id": path.rsplit("/", 1)[1], "bytes": len(raw)}, authorized))
            return self._send(h, 200, b"OK - %d" % len(raw), "text/plain")
        if path.startswith("/hooks/"):
            self._record(Call("response_url", _parse(raw, h.headers.get("Content-Type", "")), authorized))
            return self._send(h, 200, b"ok", "text/plain")
        if not path.startswith("/api/"):
            return self._send(h, 404, b"not found", "text/plain")
        method = path[len("/api/"):]
        args = _parse(raw, h.headers.get("Content-Type", ""))
        args.update({k: v[0] for k, v in parse_qs(h.path.partition("?")[2]).items()})
        with self._lock:
            failures = self._failures.get(method)
            error, retry_after = failures.pop(0) if failures else (None, 0)
        if error == "ratelimited":
            self._record(Call(method, args, authorized, {"ok": False, "error": error}))
            h.send_response(429)
            h.send_header("Retry-After", str(retry_after))
            h.send_header("Content-Type", "application/json")
            data = json.dumps({"ok": False, "error": "ratelimited"}).encode()
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if not authorized:
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif error:
            body = {"ok": False, "error": error}
        else:
            body = self._answer(method, args)
        self._record(Call(method, args, authorized, body))
        self._send(h, 200, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _next_ts(self) -> str:
        return f"1700000{next(self._ts):03d}.000100"

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel") or args.get("channel_id")
        if method in _MESSAGE_METHODS and block_text_length(args.get("blocks") or []) > MESSAGE_BLOCK_TEXT:
            return {"ok": False, "error": "msg_blocks_too_long"}
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "autogets",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            ts = self._next_ts()
            return {"ok": True, "channel": channel, "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts, "thread_ts": args.get("thread_ts"),
                                "blocks": args.get("blocks", []), "user": BOT_USER, "bot_id": BOT_ID}}
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": args.get("ts"), "text": args.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.getPermalink":
            return {"ok": True, "channel": channel, "permalink": f"https://fake.slack.com/archives/{channel}/p"
                                                                 f"{str(args.get('message_ts')).replace('.', '')}"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._files):04d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in args.get("files", [])]}
        if method == "views.open":
            return self._open_view(args)
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V1", **(args.get("view") or {})}}
        if method == "conversations.info":
            return {"ok": True, "channel": {"id": channel, "name": "general", "is_member": True}}
        if method == "users.info":
            return {"ok": True, "user": {"id": args.get("user"), "name": "someone"}}
        if method == "usergroups.users.list":
            group = args.get("usergroup")
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[group]}
        return {"ok": False, "error": "unknown_method"}

    def _open_view(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger, view = str(args.get("trigger_id") or ""), args.get("view")
        if not trigger or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if trigger in self._expired_triggers:
                return {"ok": False, "error": "expired_trigger_id"}
            if trigger in self._used_triggers:
                return {"ok": False, "error": "exchanged_trigger_id"}
            self._used_triggers.add(trigger)
        found = problems(view, surface="view")
        if view.get("type") != "modal":
            found.append(f"view type {view.get('type')!r} is not a modal")
        if found:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": found}}
        return {"ok": True, "view": {"id": f"V{next(self._views):04d}", "hash": "1.abc", "state": {"values": {}},
                                     **view}}

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        args = json.loads(text)
    else:
        args = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    for key in _JSON_FIELDS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args


@contextlib.contextmanager
def fake_slack(**kwargs: Any) -> Iterator[FakeSlack]:
    slack = FakeSlack(**kwargs).start()
    try:
        yield slack
    finally:
        slack.stop()
