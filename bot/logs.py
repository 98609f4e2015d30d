"""Structured logs for the bot: ``key=value`` extras on each line, and tokens redacted whatever logs them.

The bot's own log calls never include a token (settings hide them from ``repr``); the filter is the second line of
defence, for third-party messages (Bolt, slack_sdk) that might echo a request.
"""

from __future__ import annotations

import logging
import re
import sys

_TOKEN = re.compile(r"\b(xox[abposre]|xapp)-[A-Za-z0-9-]+")
MAX_MESSAGE = 1000   # characters of a log message (and of each extra) kept: a request body never fills the log
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def redact(text: str) -> str:
    return _TOKEN.sub(lambda m: f"{m.group(1)}-[redacted]", text)


def capped(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out (a third-party message may echo a whole
    request body: Bolt logs a refused body in full)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} characters not logged)"


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


class KeyValueFormatter(logging.Formatter):
    """``2026-11-25T10:00:00 INFO bot.bridge turn conversation=slack:T1:C1:1.2 status=review``."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = capped(record.message)
        line = super().formatMessage(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={capped(v)}" for k, v in extras.items())
        return line

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RedactTokens())
    handler.set_name("autogets-bot")
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "autogets-bot"] + [handler]
    root.setLevel(level)
