"""Bring your own classifier (``--classifier module:factory``): protocol, fast and slow paths, CLI, bad specs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from autogets.classifiers import (
    EstimatorClassifier,
    FeaturizerHeadClassifier,
    is_full_refit,
    make_classifier,
)
from autogets.cli import main
from autogets.data import load_dataset, split_dataset
from autogets.errors import ConfigError
from autogets.pipeline import build_problem, fit_model
from examples import byo_classifier

PIPELINE = "examples.byo_classifier:make_pipeline"
PAIR = "examples.byo_classifier:make_pair"


@pytest.fixture(scope="module")
def split(trec6_slice):
    return split_dataset(load_dataset(path=trec6_slice), seed=42)


def test_specs_pick_the_slow_and_the_fast_path():
    slow, fast = make_classifier(PIPELINE), make_classifier(PAIR)
    assert isinstance(slow, EstimatorClassifier) and is_full_refit(slow)
    assert isinstance(fast, FeaturizerHeadClassifier) and not is_full_refit(fast)
    for clf in (slow, fast):
        assert clone(clf).get_params().keys() == clf.get_params().keys()
        assert repr(clone(clf)) == repr(clf)


def test_pair_fitted_on_texts_equals_the_same_pipeline(split):
    texts, labels = split.train["text"].tolist(), split.train["label"].to_numpy()
    probe = split.test["text"].tolist()
    pair = make_classifier(PAIR).fit(texts, labels)
    pipe = Pipeline([("f", byo_classifier.make_pair()[0]), ("h", byo_classifier.make_pair()[1])]).fit(texts, labels)
    assert np.array_equal(pair.predict(probe), pipe.predict(probe))
    assert np.allclose(pair.decision_function(probe), pipe.decision_function(probe))


def test_search_matrix_is_cached_features_on_the_fast_path_and_texts_on_the_slow_path(split):
    fast = build_problem(split, [], "ABBR", classifier=PAIR)
    slow = build_problem(split, [], "ABBR", classifier=PIPELINE)
    assert fast.problem.X.shape[0] == slow.problem.X.shape[0] == len(split.train) + len(split.validation)
    assert fast.problem.X.dtype == float and fast.problem.X.ndim == 2
    assert slow.problem.X.dtype == object and slow.problem.X[0] == split.train["text"].iloc[0]
    # the slow path refits the whole pipeline: M0 equals the pipeline fitted on the training texts alone
    m0 = fit_model(slow, frozenset())
    direct = byo_classifier.make_pipeline().fit(split.train["text"].tolist(), split.train["label"].to_numpy())
    probe = split.test["text"].tolist()
    assert np.array_equal(m0.predict(probe), direct.predict(probe))


@pytest.mark.parametrize("spec", [PIPELINE, PAIR])
def test_cli_search_and_improve_with_a_byo_classifier(spec, trec6_slice, workspace, capsys):
    common = ["--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda", "--classifier", spec,
              "--workspace", str(workspace), "--json"]
    assert main(["search", *common, "--budget", "6", "--strategy", "random"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["budget_spent"]["evaluations"] == 6
    executor = ["--executor", "local" if spec == PIPELINE else "serial"]  # workers on one path, in-process on the other
    code = main(["improve", *common, "--budget", "10", "--promote", *executor,
                 "--fitness", "validation", "--accept", "no_drop"])  # the paper's rule: a model is registered
    captured = capsys.readouterr()
    assert code == 0, captured.err
    improved = json.loads(captured.out)
    assert improved["model_id"] == "trec6_slice-v1" and improved["promoted"]
    assert main(["predict", "--dataset", "trec6_slice", "--text", "What does CNN stand for ?", "--workspace",
                 str(workspace), "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["model_id"] == "trec6_slice-v1" and prediction["predictions"][0]["label"] in (
        "ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


@pytest.mark.parametrize(("spec", "message"), [
    ("nomodule:x", "cannot import module 'nomodule'"),
    ("os:getcwd", "gave str, not a scikit-learn estimator"),
    ("examples.byo_classifier:nope", "has no 'nope'"),
    ("os:", "expected module:factory"),
    ("sklearn.linear_model:LogisticRegression", None),  # an estimator class: accepted (fails later on texts)
])
def test_bad_specs_are_one_line_errors(spec, message, workspace, capsys):
    if message is None:
        assert isinstance(make_classifier(spec), EstimatorClassifier)
        return
    with pytest.raises(ConfigError, match=message):
        make_classifier(spec)
    for command in (["search", "--class", "ABBR"], ["diagnose"]):
        assert main([*command, "--dataset", "trec6", "--classifier", spec, "--workspace", str(workspace)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("autogets: error: classifier") and message in err[0]
    assert not workspace.exists()


def test_factory_that_raises_or_cannot_pickle_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "my_factories.py").write_text(
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import FunctionTransformer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "def broken():\n    raise RuntimeError('no GPU here')\n"
        "def unpicklable():\n    return make_pipeline(FunctionTransformer(lambda x: x), LogisticRegression())\n")
    monkeypatch.chdir(tmp_path)  # the current folder is on the import path, as for `python -m`
    with pytest.raises(ConfigError, match="the factory raised RuntimeError: no GPU here"):
        make_classifier("my_factories:broken")
    with pytest.raises(ConfigError, match="cannot be cloned and pickled"):
        make_classifier("my_factories:unpicklable")
