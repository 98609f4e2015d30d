"""The bot's settings, from environment variables (the core settings come from :mod:`autogets.config`).

| variable | meaning |
|---|---|
| ``SLACK_BOT_TOKEN`` | bot token ``xoxb-…`` ("OAuth & Permissions" of the Slack app) |
| ``SLACK_APP_TOKEN`` | app-level token ``xapp-…`` for Socket Mode ("Basic Information → App-Level Tokens") |
| ``SLACK_SIGNING_SECRET`` | HTTP mode only ("Basic Information → App Credentials") |
| ``AUTOGETS_NOTIFY_CHANNEL`` | channel for team notifications (model registered, promoted, rolled back) |
| ``AUTOGETS_APPROVERS`` | comma-separated Slack user ids (U…/W…) or user-group ids (S…) who may review any run |
| ``AUTOGETS_BOT_RUNS_PER_DATASET`` | runs of one data set at a time (default 1) |
| ``AUTOGETS_BOT_QUEUE_LIMIT`` | requests waiting per data set before new ones are refused (default 3) |
| ``AUTOGETS_BOT_PROGRESS_SECONDS`` | at most one progress update per message per this many seconds (default 1.5) |
| ``SLACK_API_URL`` | Web API base URL (default ``https://slack.com/api/``; a proxy, or a fake in tests) |

Each token and the signing secret may come from a file instead (Docker / Kubernetes secrets): ``SLACK_BOT_TOKEN_FILE``,
``SLACK_APP_TOKEN_FILE``, ``SLACK_SIGNING_SECRET_FILE`` name it (:func:`autogets.config.secret`). Tokens and the
signing secret never appear in ``repr`` or logs; error messages name the variable, never its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autogets.config import Settings, load_settings, secret
from autogets.errors import ConfigError

MANIFEST = "deploy/slack-manifest.yaml"
_BOT_TOKEN = re.compile(r"^xoxb-[A-Za-z0-9-]+$")
_APP_TOKEN = re.compile(r"^xapp-[A-Za-z0-9-]+$")
_SLACK_ID = re.compile(r"^[UWS][A-Z0-9]+$")


@dataclass(frozen=True, kw_only=True)
class BotSettings:
    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    notify_channel: str | None = None
    approvers: frozenset[str] = frozenset()
    runs_per_dataset: int = 1
    queue_limit: int = 3
    progress_seconds: float = 1.5
    api_url: str = "https://slack.com/api/"
    core: Settings = field(default_factory=Settings)

    @property
    def workspace(self) -> Path:
        return self.core.workspace

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, http: bool = False,
                 workspace: Path | None = None) -> BotSettings:
        """Read and validate the environment; a missing or malformed value raises one-line :class:`ConfigError`."""
        env = dict(os.environ) if env is None else dict(env)
        core = load_settings(env)
        if workspace is not None:
            core = Settings(workspace=workspace, seed=core.seed, llm=core.llm)
        bot_token = _token(env, "SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_FILE", _BOT_TOKEN, "xoxb-",
                           'the "Bot User OAuth Token" on the "OAuth & Permissions" page of your Slack app')
        app_token = signing_secret = None
        if http:
            signing_secret = secret(env, "SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET_FILE") or ""
            if not signing_secret or any(c.isspace() for c in signing_secret):
                raise ConfigError(f'SLACK_SIGNING_SECRET is {"malformed" if signing_secret else "not set"} (HTTP '
                                  'mode needs it): copy the "Signing Secret" from "Basic Information → App '
                                  f'Credentials" of your Slack app (created from {MANIFEST})')
        else:
            app_token = _token(env, "SLACK_APP_TOKEN", "SLACK_APP_TOKEN_FILE", _APP_TOKEN, "xapp-",
                               'an app-level token with the connections:write scope, made under "Basic '
                               'Information → App-Level Tokens" of your Slack app (or run with --http)')
        return cls(bot_token=bot_token, app_token=app_token, signing_secret=signing_secret,
                   notify_channel=env.get("AUTOGETS_NOTIFY_CHANNEL", "").strip() or None,
                   approvers=parse_approvers(env.get("AUTOGETS_APPROVERS", "")),
                   runs_per_dataset=_number(env, "AUTOGETS_BOT_RUNS_PER_DATASET", 1, int, minimum=1),
                   queue_limit=_number(env, "AUTOGETS_BOT_QUEUE_LIMIT", 3, int, minimum=0),
                   progress_seconds=_number(env, "AUTOGETS_BOT_PROGRESS_SECONDS", 1.5, float, minimum=0),
                   api_url=_api_url(env.get("SLACK_API_URL", "")), core=core)


def parse_approvers(raw: str) -> frozenset[str]:
    """``"U1, W2,S3"`` → ``{"U1", "W2", "S3"}``; anything that is not a Slack user or user-group id is an error."""
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    bad = sorted(i for i in ids if not _SLACK_ID.match(i))
    if bad:
        raise ConfigError(f"AUTOGETS_APPROVERS: {bad[0]!r} is not a Slack user id (U…/W…) or user-group id (S…)")
    return ids


def _token(env: dict[str, str], name: str, file_name: str, pattern: re.Pattern[str], prefix: str, where: str) -> str:
    value = secret(env, name, file_name) or ""
    if not value:
        raise ConfigError(f"{name} is not set: use {where} (the app is created from {MANIFEST}), or name a file "
                          f"holding it in {file_name}")
    if not pattern.match(value):
        raise ConfigError(f"{name} is malformed (it must start with {prefix}): use {where} "
                          f"(the app is created from {MANIFEST})")
    return value


def _number(env: dict[str, str], name: str, default, kind, *, minimum):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _api_url(raw: str) -> str:
    url = raw.strip() or "https://slack.com/api/"
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {url!r}")
    return url if url.endswith("/") else url + "/"
