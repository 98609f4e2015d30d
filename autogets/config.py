"""Configuration: a TOML file plus environment variables (environment wins).

The TOML file is ``$AUTOGETS_CONFIG`` or ``./autogets.toml`` if present, with a ``[autogets]`` table::

    [autogets]
    workspace = ".autogets"
    seed = 42
    classifier = "auto"      # or linear, minilm, … (see autogets.classifiers)

    [autogets.llm]
    base_url = "http://localhost:8000/v1"
    model = "my-model"

    [autogets.mlflow]
    tracking_uri = "http://127.0.0.1:5000"   # also log every registered version to this MLflow

Environment variables: ``AUTOGETS_HOME`` (workspace), ``AUTOGETS_CLASSIFIER`` (M0's classifier: ``auto``, the
default, or a name), ``AUTOGETS_LLM_BASE_URL``, ``AUTOGETS_LLM_MODEL``,
``AUTOGETS_LLM_API_KEY`` (falls back to ``OPENAI_API_KEY``), ``AUTOGETS_MLFLOW_TRACKING_URI`` (an MLflow tracking
server or store that mirrors the model registry: :mod:`autogets.mlflow_sync`; unset, MLflow is never imported).

Secrets (the LLM key here, the Slack tokens in :mod:`bot.settings`) may instead come from a file:
``AUTOGETS_LLM_API_KEY_FILE=/run/secrets/llm_key`` (Docker and Kubernetes secrets), read by :func:`secret`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autogets.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """Where the OpenAI-compatible generator sends its requests. ``api_key`` is never logged."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class MlflowSettings:
    """Where registered model versions are mirrored (:mod:`autogets.mlflow_sync`); None: nowhere."""

    tracking_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class Settings:
    workspace: Path = Path(".autogets")
    seed: int = 42
    classifier: str = "auto"
    llm: LLMSettings = field(default_factory=LLMSettings)
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh).get("autogets", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None


def secret(env: Mapping[str, str], name: str, file_name: str) -> str | None:
    """The secret in variable ``name``, or the content of the file that ``file_name`` names (stripped), or None.
    Both set is an error; errors name the variables and the file, never the secret."""
    value, path = env.get(name, "").strip(), env.get(file_name, "").strip()
    if value and path:
        raise ConfigError(f"set {name} or {file_name}, not both")
    if not path:
        return value or None
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"{file_name}: cannot read {path} ({reason})") from None
    if not content:
        raise ConfigError(f"{file_name}: {path} is empty")
    return content


def load_settings(env: dict[str, str] | None = None, config_path: Path | None = None) -> Settings:
    """Settings from the TOML file (if any), overridden by environment variables."""
    env = dict(os.environ) if env is None else env
    if config_path is None:
        config_path = Path(env["AUTOGETS_CONFIG"]) if env.get("AUTOGETS_CONFIG") else Path("autogets.toml")
        if not config_path.exists() and not env.get("AUTOGETS_CONFIG"):
            config_path = None
    raw = _read_toml(config_path) if config_path is not None else {}
    llm_raw = raw.get("llm", {})
    try:
        seed = int(env.get("AUTOGETS_SEED", raw.get("seed", 42)))
    except ValueError:
        raise ConfigError("AUTOGETS_SEED must be an integer") from None
    llm = LLMSettings(
        base_url=env.get("AUTOGETS_LLM_BASE_URL") or llm_raw.get("base_url"),
        model=env.get("AUTOGETS_LLM_MODEL") or llm_raw.get("model") or LLMSettings.model,
        api_key=secret(env, "AUTOGETS_LLM_API_KEY", "AUTOGETS_LLM_API_KEY_FILE") or env.get("OPENAI_API_KEY")
        or llm_raw.get("api_key"),
    )
    workspace = Path(env.get("AUTOGETS_HOME") or raw.get("workspace") or ".autogets")
    classifier = str(env.get("AUTOGETS_CLASSIFIER") or raw.get("classifier") or "auto")
    mlflow_raw = raw.get("mlflow", {})
    if not isinstance(mlflow_raw, dict):
        raise ConfigError(f"{config_path}: [autogets.mlflow] must be a table")
    tracking_uri = (env.get("AUTOGETS_MLFLOW_TRACKING_URI") or str(mlflow_raw.get("tracking_uri") or "")).strip()
    return Settings(workspace=workspace, seed=seed, classifier=classifier, llm=llm,
                    mlflow=MlflowSettings(tracking_uri=tracking_uri or None))
