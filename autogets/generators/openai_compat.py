"""Generator backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server), through
langchain-openai's ``ChatOpenAI`` (method Part A §7).

Requests run concurrently up to ``concurrency``; each has a timeout and bounded retries with exponential backoff
(the openai client retries 408/409/429/5xx and honours ``Retry-After``). A source example whose request still fails
is recorded as failed and skipped; the caller raises only if every example failed. The API key is never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from autogets.errors import GenerationError
from autogets.generators.base import RawOutput, SourceExample
from autogets.generators.prompts import load_prompt

log = logging.getLogger(__name__)


class OpenAICompatibleGenerator:
    """Parameters are the request's; ``base_url`` None means api.openai.com (then a key is required)."""

    name = "openai"

    def __init__(self, *, base_url: str | None = None, model: str = "gpt-4o-mini", api_key: str | None = None,
                 temperature: float = 0.9, top_p: float = 0.95, timeout: float = 60.0, max_retries: int = 3,
                 concurrency: int = 4, prompt_version: str = "v1", description: str = ""):
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.temperature = temperature
        self.top_p = top_p
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.prompt = load_prompt("chat", prompt_version)
        self.description = description
        self.prompt_version = self.prompt.key(description=description)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleGenerator(base_url={self.base_url!r}, model={self.model!r})"

    def _client(self, n: int, seed: int):
        from langchain_openai import ChatOpenAI

        if not self.api_key and not self.base_url:
            raise GenerationError("the openai generator needs AUTOGETS_LLM_API_KEY (or OPENAI_API_KEY), "
                                  "or AUTOGETS_LLM_BASE_URL for a local server")
        return ChatOpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed", model=self.model,
                          temperature=self.temperature, top_p=self.top_p, timeout=self.timeout,
                          max_retries=self.max_retries, n=n, seed=seed)

    def render(self, example: SourceExample, class_name: str) -> str:
        description = f" ({self.description})" if self.description else ""
        return self.prompt.render(class_name=class_name, description=description, example=example.text)

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0) -> Iterator[RawOutput]:
        from langchain_core.messages import HumanMessage

        llm = self._client(n_per_example, seed)

        def one(example: SourceExample) -> RawOutput:
            try:
                result = llm.generate([[HumanMessage(content=self.render(example, class_name))]], n=n_per_example)
                texts = tuple(str(g.message.content or "") for g in result.generations[0])
                return RawOutput(example=example, texts=texts)
            except (json.JSONDecodeError, ValueError) as exc:
                return RawOutput(example=example, error=f"bad response: {type(exc).__name__}")
            except Exception as exc:  # openai/httpx errors: recorded per example, never fatal here
                status = getattr(exc, "status_code", None)
                return RawOutput(example=example, error=f"{type(exc).__name__}" + (f" ({status})" if status else ""))

        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="autogets-llm")
        try:
            futures = [pool.submit(one, ex) for ex in examples]
            for future in as_completed(futures):
                out = future.result()
                if out.error:
                    log.warning("generation failed", extra={"source_id": out.example.id, "error": out.error})
                yield out
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
