"""Every classifier the CLI lists runs every command (diagnose, search, improve, predict) on a TREC-6 slice.

``embed-openai`` runs against the fake OpenAI-compatible server (its vectors are hashed bags of words)."""

from __future__ import annotations

import contextlib
import json
from functools import partial

import numpy as np
import pytest

from autogets import classifiers
from autogets.cli import main
from tests.fakes.openai_server import fake_openai_server

LISTED = ["linear", "linear-char", "logreg", "catboost", "minilm", "minilm-tfidf", "minilm-logreg", "embed-openai"]


def test_the_list_is_what_the_cli_offers():
    assert list(classifiers.CLASSIFIERS) == LISTED


def run_json(capsys, args: list[str]) -> dict:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture
def embedding_server(monkeypatch):
    """Starts the fake embeddings endpoint (``AUTOGETS_EMBED_*`` point at it) when called."""
    with contextlib.ExitStack() as stack:
        def start():
            server = stack.enter_context(fake_openai_server())
            monkeypatch.setenv("AUTOGETS_EMBED_BASE_URL", server.base_url)
            monkeypatch.setenv("AUTOGETS_EMBED_MODEL", "fake-embed")
            return server

        yield start


SLOW = {"linear-char", "logreg", "minilm-logreg"}  # other heads on features the default run covers (suite time)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in LISTED])
def test_classifier_runs_diagnose_search_improve_predict(name, trec6_slice, workspace, capsys, monkeypatch,
                                                         embedding_server):
    server = embedding_server() if name == "embed-openai" else None
    if name == "catboost":
        pytest.importorskip("catboost")
        # the paper's parameters but fewer, shallower trees: one CPU fit of depth 8 × 300 takes ~90 s on 300 rows
        monkeypatch.setitem(classifiers.CLASSIFIERS, "catboost",
                            partial(classifiers.CatBoostTextClassifier, iterations=20, depth=4))
    common = ["--data", str(trec6_slice), "--classifier", name, "--workspace", str(workspace)]
    diagnosis = run_json(capsys, ["diagnose", *common])
    assert diagnosis["classifier"] == name and diagnosis["test"]["overall"]["accuracy"] > 1 / 6

    report = run_json(capsys, ["search", *common, "--class", "ABBR", "--generator", "eda", "--n", "2",
                               "--budget", "4", "--executor", "serial"])
    assert report["budget_spent"]["evaluations"] == 4 and report["best"]["n_sources"] >= 0

    improved = run_json(capsys, ["improve", *common, "--class", "ABBR", "--generator", "eda", "--n", "2",
                                 "--budget", "3", "--executor", "serial", "--promote",
                                 "--fitness", "validation", "--accept", "no_drop"])  # the paper's rule: registered
    assert improved["promoted"]

    result = run_json(capsys, ["predict", "--dataset", "trec6_slice", "--text", "What does NASA stand for ?",
                               "--text", "Who wrote Hamlet ?", "--workspace", str(workspace)])
    assert result["model_id"] == improved["model_id"] and result["classes"] == sorted(result["classes"])
    for p in result["predictions"]:
        scores = np.array([p["scores"][c] for c in result["classes"]])
        assert p["label"] == result["classes"][int(scores.argmax())]
    expected_kind = "probability" if name == "catboost" else "decision_function"
    assert result["score_kind"] == expected_kind
    if server is not None:
        sent = [t for r in server.requests for t in r.body["input"]]
        assert sent and {r.path for r in server.requests} == {"/v1/embeddings"}
        assert len(sent) == len(set(sent))  # each text embedded once: the process memo and the workspace store
