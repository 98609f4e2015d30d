"""Synthetic-text generators (method Part A §6–7): embedded LLM (default), OpenAI-compatible LLM, EDA baseline.

:func:`make_generator` builds one by name; :func:`autogets.generators.cache.synthesize` runs one through the
persistent cache and the cleaner.
"""

from __future__ import annotations

from autogets.config import Settings
from autogets.errors import GenerationError
from autogets.generators.base import Generator, RawOutput, SourceExample, Synthetic

GENERATORS = ("embedded", "openai", "eda")

__all__ = ["GENERATORS", "Generator", "RawOutput", "SourceExample", "Synthetic", "make_generator"]


def make_generator(name: str, settings: Settings | None = None, *, dataset: str | None = None, **params) -> Generator:
    """A generator by name; ``openai`` reads its URL, model and key from ``settings`` (environment / TOML)."""
    if name == "eda":
        from autogets.generators.eda import EDAGenerator

        return EDAGenerator(**params)
    if name == "openai":
        from autogets.generators.openai_compat import OpenAICompatibleGenerator

        llm = settings.llm if settings is not None else None
        defaults = {"base_url": llm.base_url, "model": llm.model, "api_key": llm.api_key} if llm else {}
        return OpenAICompatibleGenerator(**{**defaults, **params})
    if name == "embedded":
        from autogets.data import CLASS_DESCRIPTIONS
        from autogets.generators.embedded import EmbeddedGenerator, cache_dir_for

        if settings is not None:
            params.setdefault("cache_dir", cache_dir_for(settings.workspace))
        params.setdefault("descriptions", CLASS_DESCRIPTIONS.get(dataset or "", {}))
        return EmbeddedGenerator(**params)
    raise GenerationError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
