"""Progress events through LangGraph's custom stream, throttled (never one per candidate)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Throttled:
    """Calls ``emit`` with an event at most every ``interval`` seconds per step, and always for the last one."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], interval: float = 0.5):
        self.emit = emit
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        key = f"{event.get('step')}:{event.get('phase', '')}"
        now = time.monotonic()
        final = event.get("total") is not None and event.get("done") == event.get("total")
        if final or now - self._last.get(key, -1e9) >= self.interval:
            self._last[key] = now
            self.emit(event)


def writer(interval: float) -> Throttled:
    """A throttled writer to the running graph's custom stream (a no-op outside a streamed run)."""
    try:
        from langgraph.config import get_stream_writer

        emit = get_stream_writer()
    except Exception:  # not inside a streamed graph run
        def emit(event: dict[str, Any]) -> None:
            return None
    return Throttled(emit, interval)
