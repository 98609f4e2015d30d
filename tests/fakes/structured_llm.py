"""Fake OpenAI-compatible ``/v1/chat/completions`` that answers whatever a test scripts (stdlib only).

For structured-output clients: a test scripts the assistant message's ``content`` (e.g. a JSON answer for
``response_format`` json_schema) or its ``tool_calls``, an HTTP error, a non-JSON body, or a delay::

    with structured_llm_server([json_reply({"intent": "help"}), Reply(status=500)]) as srv:
        srv.base_url          # "http://127.0.0.1:PORT/v1"
        srv.requests          # RecordedRequest list (tests.fakes.openai_server), bodies parsed
        srv.reset([...])      # a new script for the next test (requests cleared)

``script``: a list of :class:`Reply` consumed in request order (then ``default``), or a callable
``(body, index) -> Reply``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.openai_server import RecordedRequest, _err


@dataclass(frozen=True)
class Reply:
    content: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    status: int = 200
    sleep: float = 0.0           # seconds before answering (cut short when the server stops)
    raw: bytes | None = None     # send these bytes as the body instead of a completion


def json_reply(obj: Any) -> Reply:
    """An assistant message whose content is ``obj`` as JSON (what json_schema structured output expects)."""
    return Reply(content=json.dumps(obj))


def tool_reply(name: str, arguments: dict[str, Any]) -> Reply:
    """An assistant message calling tool ``name`` (what function-calling structured output expects)."""
    call = {"id": "call_" + uuid.uuid4().hex[:12], "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}
    return Reply(tool_calls=(call,))


class StructuredLLMServer:
    def __init__(self, script: list[Reply] | Callable[[Any, int], Reply] | None = None,
                 default: Reply = Reply(content="{}")):
        self._script = script
        self._default = default
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def count(self) -> int:
        return len(self.requests)

    def reset(self, script: list[Reply] | Callable[[Any, int], Reply] | None = None,
              default: Reply = Reply(content="{}")) -> StructuredLLMServer:
        """A new script and no recorded requests (one server shared by several tests)."""
        with self._lock:
            self._script, self._default, self.requests = script, default, []
        return self

    def start(self) -> StructuredLLMServer:
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                try:
                    srv._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def _reply_for(self, body: Any, idx: int) -> Reply:
        if callable(self._script):
            return self._script(body, idx)
        if self._script is not None and idx < len(self._script):
            return self._script[idx]
        return self._default

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = h.path.split("?", 1)[0]
        with self._lock:
            idx = len(self.requests)
            self.requests.append(RecordedRequest(h.command, path, {k.lower(): v for k, v in h.headers.items()},
                                                 body))
        if not path.rstrip("/").endswith("/chat/completions"):
            return _send(h, 404, json.dumps(_err(f"no route {path}", "invalid_request_error")).encode())
        reply = self._reply_for(body, idx)
        if reply.sleep:
            self._stop.wait(reply.sleep)
        if reply.raw is not None:
            return _send(h, reply.status, reply.raw)
        if reply.status != 200:
            return _send(h, reply.status, json.dumps(_err(f"server error {reply.status}", "server_error")).encode())
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = list(reply.tool_calls)
        completion = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake-model") if isinstance(body, dict) else "fake-model",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        _send(h, 200, json.dumps(completion).encode())


def _send(h: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()


@contextlib.contextmanager
def structured_llm_server(script: list[Reply] | Callable[[Any, int], Reply] | None = None,
                          default: Reply = Reply(content="{}")) -> Iterator[StructuredLLMServer]:
    srv = StructuredLLMServer(script, default).start()
    try:
        yield srv
    finally:
        srv.stop()
