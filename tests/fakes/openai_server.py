"""Fake OpenAI-compatible Chat Completions and Embeddings server (stdlib only).

Usage (tests only; stdlib http.server on 127.0.0.1, ephemeral port):
    with fake_openai_server(script=["429:1", "ok"]) as srv:
        srv.base_url      # "http://127.0.0.1:PORT/v1"
        srv.requests      # list of RecordedRequest (path, headers, body)
        srv.count         # number of requests received (any path)

Behaviours (strings, optionally "name:param"):
    "ok"            normal reply; choice i content = f"ECHO{i}:{last_user_msg.upper()}"
                    honours body["n"] (default 1)
    "empty"         reply with content "" (n choices)
    "null"          reply with content null (n choices)
    "429" / "429:S" 429 with `Retry-After: S` header (default S=1; float allowed)
    "429ms:MS"      429 with `retry-after-ms: MS` header
    "500", "503"    error status with an OpenAI-style JSON error body
    "500:MS"        same, plus `retry-after-ms: MS` (makes the client's retry wait MS ms)
    "sleep:S"       sleep S seconds (interruptible on shutdown) then reply "ok"
                    (used for both client-timeout tests and concurrency measurement)
    "garbage"       200 with non-JSON body, Content-Type application/json
    "garbage_text"  200 with non-JSON body, Content-Type text/plain
    "cap_n:K"       like llama.cpp with K slots: n > K gets llama.cpp's own 400 body
                    ("Field 'n': Value must be between 1 <= value <= K, but got N"), else "ok"
    "ignore_n"      like Ollama: "ok" with one choice whatever n asks
    "400:MESSAGE"   400 with a llama.cpp-style body carrying MESSAGE (may contain ':')
    "reply:TEXT"    "ok" with every choice's content = TEXT (may contain ':'), e.g. a chat model's chatter

Embeddings (``POST /v1/embeddings``): "ok" answers one vector per input, a hashed bag of words of EMBED_DIM
dimensions (not normalised, like some servers), base64-encoded float32 when the body asks
``encoding_format: "base64"`` (the openai client's default), else lists of floats; "floats" ignores the format (as
Ollama's compatibility layer does); "cap_batch:K" answers llama.cpp's 400 when more than K inputs come at once;
"shuffled" returns the vectors in reverse index order (each with its ``index``); "sleep:S" waits then answers as "ok";
the error behaviours above apply.

`script` may be:
    * a list of behaviours consumed in request order; once exhausted, `default`
      (default "ok") is used for every later request;
    * a callable (body: dict, index: int) -> behaviour string;
    * None -> always `default`.
For concurrent tests, `directive_script` lets the prompt itself choose the
behaviour, e.g. prompt "@500 hello" or "@429once hello" (per-prompt state).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON dict, or raw str if not JSON
    behaviour: str = ""
    t: float = field(default_factory=time.monotonic)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


def last_user_message(body: dict) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, list):  # content-parts form
                return "".join(p.get("text", "") for p in c if isinstance(p, dict))
            return c or ""
    return ""


def directive_script() -> Callable[[dict, int], str]:
    """Behaviour chosen by the first '@directive' anywhere in the last user message.

    @ok, @empty, @null, @500, @503, @garbage, @garbage_text, @sleep=S,
    @429once (429 w/ Retry-After 0 the first time this exact prompt is seen,
    then ok), @429always.
    """
    seen: set[str] = set()
    lock = threading.Lock()

    def choose(body: dict, _idx: int) -> str:
        text = last_user_message(body)
        match = re.search(r"@(\S+)", text)
        if not match:
            return "ok"
        word = match.group(1)
        if word == "429once":
            with lock:
                if text in seen:
                    return "ok"
                seen.add(text)
            return "429:0"
        if word == "429always":
            return "429:0"
        if word.startswith("sleep="):
            return "sleep:" + word.split("=", 1)[1]
        return word

    return choose


class FakeOpenAIServer:
    def __init__(self, script=None, default: str = "ok", port: int = 0):
        self._port = port  # 0: an ephemeral port; a given one lets a test bring a "crashed" server back
        self._script = script
        self._default = default
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0  # peak concurrent chat requests (to assert bounded concurrency)
        self.httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set = set()  # open client sockets, closed by stop() like a server that went away

    # -- public -----------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.httpd is not None
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeOpenAIServer:
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers

            def log_message(self, *a):  # silence
                pass

            def setup(self):
                super().setup()
                with srv._lock:
                    srv._connections.add(self.connection)

            def finish(self):
                with srv._lock:
                    srv._connections.discard(self.connection)
                super().finish()

            def do_GET(self):
                srv._handle(self)

            def do_POST(self):
                srv._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wake sleeping handlers
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        with self._lock:  # kept-alive connections too: a stopped server answers nothing more
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(timeout=5)

    # -- internals --------------------------------------------------------
    def _next_behaviour(self, body: Any, idx: int) -> str:
        s = self._script
        if s is None:
            return self._default
        if callable(s):
            return s(body if isinstance(body, dict) else {}, idx)
        return s[idx] if idx < len(s) else self._default

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in h.headers.items()}
        path = h.path.split("?", 1)[0]
        rec = RecordedRequest(h.command, path, headers, body)
        with self._lock:
            idx = self.count
            self.count += 1
            self.requests.append(rec)

        kind = "embeddings" if path.rstrip("/").endswith("/embeddings") else "chat"
        if h.command != "POST" or not (kind == "embeddings" or path.rstrip("/").endswith("/chat/completions")):
            rec.behaviour = "404"
            return self._send_json(h, 404, {"error": {"message": f"no route {h.command} {path}",
                                                       "type": "invalid_request_error"}})
        beh = self._next_behaviour(body, idx)
        rec.behaviour = beh
        name, _, param = beh.partition(":")
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if kind == "embeddings" and name == "sleep":  # then an embeddings reply, not a chat completion
                self._stop.wait(float(param or 5))
                self._embeddings(h, body, "ok", "")
            elif kind == "embeddings" and name in ("ok", "floats", "cap_batch", "shuffled"):
                self._embeddings(h, body, name, param)
            else:
                self._dispatch(h, body, beh, name, param)
        except (BrokenPipeError, ConnectionResetError):
            pass  # client gave up (e.g. timeout)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _dispatch(self, h, body, beh, name, param) -> None:
        if name == "ok":
            self._send_json(h, 200, self._completion(body))
        elif name in ("empty", "null"):
            self._send_json(h, 200, self._completion(body, content="" if name == "empty" else None))
        elif name == "429":
            self._send_json(h, 429, _err("Rate limit reached", "rate_limit_exceeded"),
                            {"Retry-After": param or "1"})
        elif name == "429ms":
            self._send_json(h, 429, _err("Rate limit reached", "rate_limit_exceeded"),
                            {"retry-after-ms": param or "100"})
        elif name in ("500", "502", "503", "504"):
            extra = {"retry-after-ms": param} if param else None  # "500:10" -> short client backoff
            self._send_json(h, int(name), _err(f"server error {name}", "server_error"), extra)
        elif name == "sleep":
            self._stop.wait(float(param or 5))
            self._send_json(h, 200, self._completion(body))
        elif name == "cap_n":
            cap, n = int(param), int(body.get("n") or 1)
            if n > cap:
                self._send_json(h, 400, _llama_err(f"Field 'n': Value must be between 1 <= value <= {cap}, "
                                                   f"but got {n}"))
            else:
                self._send_json(h, 200, self._completion(body))
        elif name == "ignore_n":
            self._send_json(h, 200, self._completion({**body, "n": 1}))
        elif name == "reply":
            self._send_json(h, 200, self._completion(body, content=param))
        elif name == "400":
            self._send_json(h, 400, _llama_err(param or "bad request"))
        elif name in ("garbage", "garbage_text"):
            ctype = "application/json" if name == "garbage" else "text/plain"
            self._send_raw(h, 200, b"<html>this is {not json", ctype)
        else:
            self._send_json(h, 400, _err(f"unknown behaviour {beh!r}", "invalid_request_error"))

    def _embeddings(self, h, body: dict, name: str, param: str) -> None:
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if name == "cap_batch" and len(inputs) > int(param):
            return self._send_json(h, 400, _llama_err("input is too large to process. increase the physical batch "
                                                      "size"))
        as_base64 = body.get("encoding_format") == "base64" and name != "floats"
        data = []
        for i, text in enumerate(inputs):
            vector = embed_text(str(text))
            value: Any = base64.b64encode(vector.tobytes()).decode() if as_base64 else vector.tolist()
            data.append({"object": "embedding", "index": i, "embedding": value})
        if name == "shuffled":
            data.reverse()
        self._send_json(h, 200, {"object": "list", "data": data, "model": body.get("model", "fake-embed"),
                                 "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}})

    @staticmethod
    def _completion(body: dict, content: Any = "__echo__") -> dict:
        n = int(body.get("n") or 1)
        prompt = last_user_message(body)
        choices = []
        for i in range(n):
            c = f"ECHO{i}:{prompt.upper()}" if content == "__echo__" else content
            choices.append({"index": i, "message": {"role": "assistant", "content": c},
                            "logprobs": None, "finish_reason": "stop"})
        pt = max(1, len(prompt.split()))
        ct = sum(len((ch["message"]["content"] or "").split()) for ch in choices)
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": choices,
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        }

    @staticmethod
    def _send_raw(h, status: int, data: bytes, ctype: str, extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def _send_json(self, h, status: int, obj: dict, extra: dict | None = None) -> None:
        self._send_raw(h, status, json.dumps(obj).encode(), "application/json", extra)


EMBED_DIM = 64


def embed_text(text: str):
    """The fake server's vector of ``text``: word counts hashed into EMBED_DIM float32 slots, plus 1 in slot 0 (so
    no vector is zero); deterministic, and texts sharing words point the same way."""
    import numpy as np

    vector = np.zeros(EMBED_DIM, dtype=np.float32)
    vector[0] = 1.0
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % EMBED_DIM] += 1.0
    return vector


def _err(msg: str, typ: str) -> dict:
    return {"error": {"message": msg, "type": typ, "param": None, "code": typ}}


def _llama_err(msg: str) -> dict:
    """llama.cpp server's error body (its shape differs from OpenAI's: numeric code, no param)."""
    return {"error": {"code": 400, "message": msg, "type": "invalid_request_error"}}


@contextlib.contextmanager
def fake_openai_server(script=None, default: str = "ok", port: int = 0) -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer(script=script, default=default, port=port).start()
    try:
        yield srv
    finally:
        srv.stop()


