"""Generator backed by any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server), through
langchain-openai's ``ChatOpenAI`` (method Part A §7).

Requests run concurrently up to ``concurrency``; each has a timeout and bounded retries with exponential backoff
(the openai client retries 408/409/429/5xx and honours ``Retry-After``). A source example whose request still fails
is recorded as failed and skipped; the caller raises only if every example failed. The API key is never logged.

Servers differ on ``n`` (choices per request): llama.cpp refuses an ``n`` above its slot count with a 400, Ollama
ignores it and answers one choice. So a refused ``n`` is retried at the cap the server's message states (else 1),
a short answer is topped up by further requests (each with its own seed: a seeded server would repeat itself), and
the learned cap (``n_cap_``) is kept for the generator's later requests. The first example of a run goes alone
while the cap is unknown, so a refusal is paid once, not once per concurrent request.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from autogets.errors import GenerationError
from autogets.generators.base import RawOutput, SourceExample
from autogets.generators.prompts import load_prompt

log = logging.getLogger(__name__)

_N_MENTION = re.compile(r"(?<![\w'])['\"`]?n['\"`]?(?![\w'])")
_STATED_CAP = re.compile(r"(?:<=|at most|maximum(?: value)?(?: is| of)?|up to)\s*(\d+)", re.IGNORECASE)


def refuses_n(exc: BaseException) -> bool:
    """Whether ``exc`` is a 400 about the ``n`` parameter (OpenAI names it in ``param``, llama.cpp in the text)."""
    if getattr(exc, "status_code", None) != 400:
        return False
    return getattr(exc, "param", None) == "n" or bool(_N_MENTION.search(server_message(exc)))


def stated_cap(message: str) -> int | None:
    """The largest ``n`` a refusal message allows ("1 <= value <= 4" → 4), if it says."""
    caps = [int(m) for m in _STATED_CAP.findall(message)]
    return min(caps) if caps else None


def server_message(exc: BaseException) -> str:
    """The server's own error message (the JSON body's ``message``), else the exception's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, str) and body.strip():
        return body
    return getattr(exc, "message", None) or str(exc)


def describe_error(exc: BaseException, secret: str | None = None) -> str:
    """One line: the openai error class (langchain's subclasses named by their openai base), the HTTP status and
    the server's message, with ``secret`` masked and the length bounded."""
    name = next((k.__name__ for k in type(exc).__mro__ if k.__module__.split(".")[0] == "openai"),
                type(exc).__name__)
    status = getattr(exc, "status_code", None)
    message = " ".join(server_message(exc).split())
    if secret and len(secret) >= 4:
        message = message.replace(secret, "***")
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{name}" + (f" ({status})" if status else "") + (f": {message}" if message else "")


class OpenAICompatibleGenerator:
    """Parameters are the request's; ``base_url`` None means api.openai.com (then a key is required).

    ``n_cap_`` is the most choices the server was seen to give per request (None until it limited one).
    """

    name = "openai"
    uses_context = False  # the prompt shows only the source example (part of the cache key when used)

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
        self.n_cap_: int | None = None
        self._probed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleGenerator(base_url={self.base_url!r}, model={self.model!r})"

    def _client(self, seed: int):
        from langchain_openai import ChatOpenAI

        if not self.api_key and not self.base_url:
            raise GenerationError("the openai generator needs AUTOGETS_LLM_API_KEY (or OPENAI_API_KEY), "
                                  "or AUTOGETS_LLM_BASE_URL for a local server")
        return ChatOpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed", model=self.model,
                          temperature=self.temperature, top_p=self.top_p, timeout=self.timeout,
                          max_retries=self.max_retries, seed=seed)

    def render(self, example: SourceExample, class_name: str, hint: str = "") -> str:
        """The prompt; a non-empty ``hint`` ("shorter", "more formal") adds one instruction line at the end."""
        description = f" ({self.description})" if self.description else ""
        text = self.prompt.render(class_name=class_name, description=description, example=example.text)
        hint = " ".join(hint.split()).rstrip(".")
        return f"{text.rstrip()}\n\nAlso make the new examples {hint}." if hint else text

    def _learn_cap(self, cap: int) -> None:
        with self._lock:
            if self.n_cap_ is None or cap < self.n_cap_:
                log.info("server limits choices per request", extra={"n_cap": cap})
                self.n_cap_ = cap

    def _texts(self, llm, prompt: str, n: int, seed: int) -> list[str]:
        """``n`` texts for one prompt, in as many requests as the server needs (at most ``n + 2``)."""
        import openai
        from langchain_core.messages import HumanMessage

        texts: list[str] = []
        for attempt in range(n + 2):
            ask = min(n - len(texts), self.n_cap_ or n)
            try:
                result = llm.generate([[HumanMessage(content=prompt)]], n=ask, seed=seed + attempt)
            except openai.BadRequestError as exc:
                if ask == 1 or not refuses_n(exc):
                    raise
                cap = stated_cap(server_message(exc))
                self._learn_cap(cap if cap is not None and 1 <= cap < ask else 1)
                continue
            got = [str(g.message.content or "") for g in result.generations[0]]
            if len(got) < ask:
                self._learn_cap(max(1, len(got)))
            texts.extend(got)
            if len(texts) >= n:
                return texts[:n]
        if not texts:
            raise GenerationError(f"the server returned no choices in {n + 2} requests")
        return texts

    def _one(self, llm, example: SourceExample, n: int, class_name: str, seed: int, hint: str) -> RawOutput:
        try:
            texts = self._texts(llm, self.render(example, class_name, hint), n, seed)
            return RawOutput(example=example, texts=tuple(texts))
        except (json.JSONDecodeError, ValueError) as exc:
            return RawOutput(example=example, error=f"bad response: {type(exc).__name__}")
        except Exception as exc:  # openai/httpx errors: recorded per example, never fatal here
            return RawOutput(example=example, error=describe_error(exc, self.api_key))

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0, hint: str = "") -> Iterator[RawOutput]:
        """Raw texts per example (see the module docstring for servers that limit ``n``).

        ``hint`` changes the prompt but not :attr:`prompt_version`: a caller that caches by that key must add the
        hint to it, or hinted texts would be served for plain requests and the reverse.
        """
        llm = self._client(seed)
        pending = list(examples)
        pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="autogets-llm")
        try:
            if pending and not self._probed and n_per_example > 1:
                yield self._logged(self._one(llm, pending.pop(0), n_per_example, class_name, seed, hint))
                self._probed = True
            futures = [pool.submit(self._one, llm, ex, n_per_example, class_name, seed, hint) for ex in pending]
            for future in as_completed(futures):
                yield self._logged(future.result())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _logged(out: RawOutput) -> RawOutput:
        if out.error:
            log.warning("generation failed", extra={"source_id": out.example.id, "error": out.error})
        return out
