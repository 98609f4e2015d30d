"""``--classifier auto`` (issue 21): M0's classifier chosen by the product's cross-validation on train + validation,
printed and recorded by diagnose, named by improve's report; never decided on the test split."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from autogets.cli import main
from autogets.data import load_dataset, split_dataset
from autogets.selection import ClassifierChoice, ClassifierScore, _better, choose_classifier, score_classifier


def score(name, macro, target=None):
    return ClassifierScore(name=name, description=name, macro_cba=macro, accuracy=0.5, target_cba=target, seconds=0)


def test_the_goal_class_decides_and_macro_cba_breaks_ties():
    assert _better(score("b", 0.80, 0.90), score("a", 0.95, 0.85), "X")        # the goal class first
    assert not _better(score("b", 0.99, 0.85), score("a", 0.80, 0.90), "X")     # a better macro CBA is not enough
    assert _better(score("b", 0.90, 0.9004), score("a", 0.85, 0.9000), "X")    # tie on X: macro decides
    assert not _better(score("b", 0.8505, 0.95), score("a", 0.85, 0.95), "X")  # tie on both: the earlier stays
    assert _better(score("b", 0.86), score("a", 0.85), None)
    assert not _better(score("b", 0.8505), score("a", 0.85), None)


def test_the_reason_names_both_classifiers_and_their_cross_validated_scores():
    choice = ClassifierChoice(chosen="minilm", by="macro CBA", target=None, folds=5, repeats=2,
                              scores=(ClassifierScore("linear", "TF-IDF + linear SVM", 0.946, 0.9, None, 1.0),
                                      ClassifierScore("minilm", "MiniLM + balanced ridge", 0.977, 0.95, None, 2.0)))
    assert choice.reason() == ("MiniLM + balanced ridge, chosen over TF-IDF + linear SVM by cross-validated macro "
                               "CBA .977 vs .946")
    assert ClassifierChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice


@pytest.fixture(scope="module")
def slice_split(trec6_slice):
    return split_dataset(load_dataset(None, path=trec6_slice), seed=42)


def test_auto_picks_the_best_cross_validated_candidate_and_never_reads_test(slice_split):
    choice = choose_classifier(slice_split, candidates=("linear", "minilm"))
    scores = {s.name: s for s in choice.scores}
    best = max(choice.scores, key=lambda s: s.macro_cba)
    assert choice.chosen == (best.name if best.macro_cba - min(s.macro_cba for s in choice.scores) >= 0.001
                             else "linear")
    # each score is the product's cross-validation, reproducible on its own
    assert score_classifier(slice_split, "linear").macro_cba == pytest.approx(scores["linear"].macro_cba)
    # a test split with every label wrong changes nothing: the choice never looks at it
    broken = replace(slice_split, test=slice_split.test.assign(label=slice_split.test["label"].iloc[::-1].values))
    again = choose_classifier(broken, candidates=("linear", "minilm"))
    assert again.chosen == choice.chosen
    assert [replace(s, seconds=0) for s in again.scores] == [replace(s, seconds=0) for s in choice.scores]


def run_json(capsys, args):
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_diagnose_defaults_to_auto_and_prints_the_comparison(trec6_slice, workspace, capsys, monkeypatch):
    monkeypatch.delenv("AUTOGETS_CLASSIFIER", raising=False)  # the product's default, not the test suite's pin
    common = ["diagnose", "--data", str(trec6_slice), "--workspace", str(workspace)]
    data = run_json(capsys, common)
    choice = data["classifier_choice"]
    assert [s["name"] for s in choice["scores"]] == ["linear", "minilm", "minilm-tfidf"]
    assert data["classifier"] == choice["chosen"] and choice["by"] == "macro CBA"
    assert data["classifier_reason"].startswith(choice["description"])
    assert main(common) == 0
    shown = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert "Classifier for M0" in shown and "chosen" in shown and f"M0: {data['classifier_reason']}" in shown


def test_an_asked_for_classifier_is_used_without_a_comparison(trec6_slice, workspace, capsys):
    data = run_json(capsys, ["diagnose", "--data", str(trec6_slice), "--workspace", str(workspace),
                             "--classifier", "linear"])
    assert data["classifier"] == "linear" and data["classifier_choice"] is None
    assert data["classifier_reason"] == "TF-IDF + linear SVM (asked for)"


def test_bad_classifier_names_are_one_line(trec6_slice, workspace, capsys, monkeypatch):
    monkeypatch.setenv("AUTOGETS_CLASSIFIER", "nope")
    assert main(["diagnose", "--data", str(trec6_slice), "--workspace", str(workspace)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown classifier 'nope'" in err and len(err.splitlines()) == 1


def test_improve_with_auto_trains_on_the_chosen_classifier_and_names_it(trec6_slice, workspace, capsys,
                                                                         monkeypatch):
    monkeypatch.delenv("AUTOGETS_CLASSIFIER", raising=False)
    report = run_json(capsys, ["improve", "--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda",
                               "--n", "2", "--budget", "4", "--executor", "serial", "--workspace", str(workspace)])
    info = report["classifier"]
    assert info["choice"]["target"] == "ABBR" and info["choice"]["by"] == "CBA of ABBR"
    assert info["name"] == info["choice"]["chosen"]
    from pathlib import Path

    assert info["reason"] in (Path(report["report_dir"]) / "report.md").read_text()
    if report.get("model_id"):
        import joblib

        from autogets.classifiers import EmbeddingClassifier, TfidfLinearClassifier

        model = joblib.load(report["model_file"])
        expected = EmbeddingClassifier if info["name"] == "minilm" else TfidfLinearClassifier
        assert isinstance(model, expected)


def test_a_tie_says_so():
    choice = ClassifierChoice(chosen="linear", by="macro CBA", target=None, folds=5, repeats=2,
                              scores=(ClassifierScore("linear", "TF-IDF + linear SVM", 0.8175, 0.7, None, 1.0),
                                      ClassifierScore("minilm", "MiniLM + balanced ridge", 0.8175, 0.7, None, 2.0)))
    assert choice.reason() == ("TF-IDF + linear SVM, kept over MiniLM + balanced ridge: cross-validated macro CBA "
                               "ties at .818 (a tie keeps the earlier, cheaper candidate)")


def test_a_tie_on_the_goal_class_says_macro_cba_broke_it():
    choice = ClassifierChoice(chosen="minilm-tfidf", by="CBA of ABBR", target="ABBR", folds=5, repeats=2,
                              scores=(ClassifierScore("linear", "TF-IDF + linear SVM", 0.891, 0.8, 0.826, 1.0),
                                      ClassifierScore("minilm", "MiniLM + balanced ridge", 0.898, 0.8, 0.8871, 1.0),
                                      ClassifierScore("minilm-tfidf", "MiniLM + TF-IDF + balanced ridge", 0.920, 0.8,
                                                      0.8873, 1.0)))
    assert choice.reason() == ("MiniLM + TF-IDF + balanced ridge, chosen by cross-validated CBA of ABBR .887 (vs "
                               "TF-IDF + linear SVM .826, MiniLM + balanced ridge .887); the tie with MiniLM + "
                               "balanced ridge broken by macro CBA .920 vs .898")
    two = replace(choice, scores=choice.scores[1:])
    assert two.reason() == ("MiniLM + TF-IDF + balanced ridge, chosen over MiniLM + balanced ridge by cross-validated "
                            "CBA of ABBR .887 vs .887; the tie with MiniLM + balanced ridge broken by macro CBA .920 "
                            "vs .898")
