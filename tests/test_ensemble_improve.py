from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autogets.cli import main
from autogets.data import load_dataset, split_dataset
from autogets.ensemble import accepts, plan_phases, run_phases
from autogets.generators.base import Synthetic
from autogets.pipeline import build_problem, class_views, fit_model
from autogets.search import Budget, Evaluator
from autogets.search.objectives import make_objective

COUNTS = {"ABBR": 55, "DESC": 737, "ENTY": 797, "HUM": 778, "LOC": 527, "NUM": 549}
RECALL = {"ABBR": 0.64, "DESC": 0.88, "ENTY": 0.80, "HUM": 0.75, "LOC": 0.88, "NUM": 0.88}


def kb_row(cls, strategy, objective, val_gain, effects):
    return {"class": cls, "strategy": strategy, "objective": objective, "val_gain": val_gain, "evaluations": 100,
            "effects": effects}


def test_plan_from_hand_made_knowledge_map_picks_best_cross_class_source():
    kb = pd.DataFrame([
        kb_row("ABBR", "sw", "cba", 0.010, {"ABBR": 0.010}),
        kb_row("ABBR", "hsw", "cba", 0.030, {"ABBR": 0.030}),
        kb_row("LOC", "ga", "cba", 0.020, {"ABBR": 0.005, "LOC": 0.02}),
        kb_row("NUM", "sw", "oba", 0.010, {"ABBR": 0.040}),
        kb_row("HUM", "hsw", "cba", 0.050, {"ABBR": -0.02}),
    ])
    phases, source = plan_phases("ABBR", "cba", train_counts=COUNTS, val_recall=RECALL, knowledge=kb)
    assert source == "knowledge map"
    assert [(p.source, p.strategy, p.objective) for p in phases] == [
        ("ABBR", "hsw", "cba"), ("NUM", "sw", "oba"), ("LOC", "ga", "cba")]
    assert "raised ABBR CBA by +0.0400" in phases[1].reason


def test_default_rules_without_knowledge():
    phases, source = plan_phases("ABBR", "cba", train_counts=COUNTS, val_recall=RECALL, knowledge=pd.DataFrame())
    assert source == "default rules" and phases[0].strategy == "ga" and "small" in phases[0].reason
    assert plan_phases("ENTY", "cba", train_counts=COUNTS, val_recall=RECALL)[0][0].strategy == "hsw"
    assert plan_phases("LOC", "cba", train_counts=COUNTS, val_recall=RECALL)[0][0].strategy == "sw"


@pytest.fixture(scope="module")
def poisoned():
    """LOC 'synthetic' texts that are copies of ABBR training questions (3 each): adding them must hurt ABBR."""
    split = split_dataset(load_dataset("trec6"), seed=42)
    abbr = split.train[split.train["label"] == "ABBR"]["text"].tolist()
    loc_ids = split.train[split.train["label"] == "LOC"]["id"].tolist()
    synthetic = [Synthetic(source_id=int(loc_ids[i % len(loc_ids)]), sample_index=i // len(loc_ids),
                           text=t, label="LOC", generator="test", model="test", prompt_version="v")
                 for i, t in enumerate(t for t in abbr for _ in range(3))]
    prepared = build_problem(split, synthetic, "ABBR")
    m0 = fit_model(prepared, frozenset())
    views = class_views(split, m0, ["ABBR", "LOC"])
    return split, prepared, views


def test_phase_that_hurts_the_goal_is_reverted_and_training_set_unchanged(poisoned):
    split, prepared, views = poisoned
    goal = make_objective("cba", "ABBR")
    evaluator = Evaluator(prepared.problem, make_objective("recall", "LOC"), Budget(max_evaluations=3))
    (everything,) = evaluator.evaluate([evaluator.pool])
    ok, why = accepts(goal, everything, evaluator.baseline)
    assert not ok and why.startswith("reverted: goal cba would drop")

    from autogets.ensemble import Phase

    outcome = run_phases(prepared.problem, views, goal, [Phase("LOC", "random", "oba", "test")],
                         budget=lambda: Budget(max_evaluations=15))
    (decision,) = outcome.decisions
    if not decision.accepted:
        assert np.array_equal(outcome.base_rows, np.arange(len(split.train)))
        assert outcome.final_validation.value("cba", "ABBR") == outcome.m0_validation.value("cba", "ABBR")
    else:  # only acceptable if ABBR did not drop
        assert outcome.final_validation.value("cba", "ABBR") >= outcome.m0_validation.value("cba", "ABBR")


def test_improve_end_to_end_then_kb_guided_plan(workspace, capsys):
    ws = ["--workspace", str(workspace), "--executor", "serial"]
    code = main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "3",
                 "--budget", "20", *ws])
    out = capsys.readouterr().out
    assert code == 0
    assert "Plan from the default rules" in out and "Test split: improved vs M0 (trec6-v1)" in out
    (folder,) = (workspace / "reports").glob("improve-trec6-*")
    for name in ("report.md", "report.json", "per_class.png", "best_so_far.png", "pca_map.png"):
        assert (folder / name).exists(), name
    report = json.loads((folder / "report.json").read_text())
    assert report["model_id"] == "trec6-v1" and len(report["decisions"]) == 2
    assert set(report["test"]["final"]["per_class"]) == set(COUNTS)
    # chosen on repeated folds of train + validation; the model and its M0 refitted on train + validation
    assert report["selection"]["fitness"] == "cv" and report["selection"]["refit"] == "train+validation"
    assert report["selection"]["final_check"].startswith("the final training set scores at least M0")
    assert all(d["decision"].startswith(("accepted (", "reverted: goal cba", "reverted: the phase found nothing"))
               for d in report["decisions"])
    from autogets.workspace import Workspace

    kb = list(Workspace(workspace).db()["knowledge"].rows)  # the production run's first phase is in the map
    first = report["decisions"][0]
    assert [(r["class"], r["strategy"], r["objective"], r["budget"], r["test_gain"]) for r in kb] == [
        ("ABBR", first["strategy"], "cba", 20, None)]
    assert kb[0]["evaluations"] == first["evaluations"]

    assert main(["kb", "build", "--dataset", "trec6", "--class", "ABBR", "--class", "NUM", "--strategy", "sw",
                 "--strategy", "random", "--objective", "cba", "--budget", "10", "--generator", "eda", "--n", "3",
                 "--workspace", str(workspace), "--executor", "serial"]) == 0
    assert main(["kb", "build", "--dataset", "trec6", "--class", "ABBR", "--strategy", "sw", "--objective", "cba",
                 "--budget", "10", "--generator", "eda", "--n", "3", "--workspace", str(workspace)]) == 0
    assert "already in the map" in capsys.readouterr().out
    assert main(["kb", "show", "--dataset", "trec6", "--workspace", str(workspace)]) == 0
    assert (workspace / "reports" / "kb-trec6-cba.png").exists()
    capsys.readouterr()
    assert main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "3",
                 "--budget", "10", "--promote", *ws]) == 0
    out = capsys.readouterr().out
    assert "Plan from the knowledge map" in out and "knowledge map: best for ABBR" in out
    flat = " ".join(out.split())
    # a new version, or — when the plan chose the same texts — v1 again (the same recipe is not registered twice)
    assert "trec6-v2: promoted to production" in flat or "trec6-v1: promoted to production (the same recipe" in flat


def test_improve_multi_goal(workspace, capsys):
    assert main(["improve", "--dataset", "trec6", "--goal", "recall:ABBR,recall:HUM", "--generator", "eda",
                 "--n", "2", "--budget", "8", "--workspace", str(workspace), "--executor", "serial",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["goal"] == "recall:ABBR,recall:HUM"
    assert {d["source"] for d in report["decisions"]} == {"ABBR", "HUM"}


def test_two_plain_improves_are_two_observations_and_kb_show_says_na(workspace, capsys):
    args = ["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--n", "2", "--budget", "4",
            "--workspace", str(workspace), "--executor", "serial", "--json"]
    assert main(args) == 0
    assert main(args) == 0
    from autogets.workspace import Workspace

    kb = list(Workspace(workspace).db().query("SELECT class, strategy, budget, run_id FROM knowledge ORDER BY rowid"))
    assert len(kb) == 2 and kb[0]["run_id"] != kb[1]["run_id"]
    assert {(r["class"], r["strategy"], r["budget"]) for r in kb} == {(kb[0]["class"], kb[0]["strategy"], 4)}
    capsys.readouterr()
    assert main(["kb", "show", "--dataset", "trec6", "--workspace", str(workspace)]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "ABBR" in line]
    assert "n/a" in row and " 2 " in row


def _report_data(fitness: str, support: int, changed: bool = True) -> dict:
    row = {"class": "ABBR", "support": support, "cba_m0": 0.80, "cba_new": 0.85, "delta": 0.05}
    decisions = [{"accepted": True, "goal_before": 0.81, "goal_after": 0.86},
                 {"accepted": False, "goal_before": 0.86, "goal_after": 0.86}]
    return {"class": "ABBR", "goal": "cba:ABBR", "changed": changed, "decisions": decisions,
            "selection": {"fitness": fitness},
            "test": {"interval": [-0.01, 0.09], "class_cba_gain": 0.05, "support": support,
                     "few_examples": support < 30, "rows": [row]}}


def test_the_gain_sentence_carries_the_interval_and_the_cross_validated_estimate():
    from autogets.report import gain_sentence

    few = gain_sentence(_report_data("cv", 17))
    assert "(+0.050; 95% bootstrap interval -0.010 to +0.090, 17 test examples)" in few
    assert "too few test examples to confirm" in few and "cross-validated estimate, +0.050 (cba:ABBR" in few
    many = gain_sentence(_report_data("cv", 120))
    assert "too few" not in many and many.endswith("cross-validated estimate +0.050 (cba:ABBR, out-of-fold over "
                                                   "train + validation)")
    assert "+0.000 (cba:ABBR" in gain_sentence(_report_data("cv", 120, changed=False))  # reverted to M0
    single = gain_sentence(_report_data("validation", 17))
    assert "cross-validated" not in single and single.endswith("read the interval, not the point estimate")


def test_the_cross_validated_gain_of_several_goals_adds_every_accepted_phase():
    """Issue 23 item 5: with several goals each phase stores its change from its own start; two accepted phases
    of +0.02 and +0.03 gain +0.05 (not the last phase's +0.03)."""
    from autogets.report import cross_validated_gain

    data = {"goal": "recall:ABBR,recall:LOC", "changed": True, "selection": {"fitness": "cv"},
            "decisions": [{"accepted": True, "goal_before": 0.0, "goal_after": 0.02},
                          {"accepted": False, "goal_before": 0.0, "goal_after": -0.01},
                          {"accepted": True, "goal_before": 0.0, "goal_after": 0.03}]}
    assert cross_validated_gain(data).startswith("+0.050 (recall:ABBR,recall:LOC")
    single = {**data, "goal": "cba:ABBR", "decisions": [{"accepted": True, "goal_before": 0.80, "goal_after": 0.82},
                                                        {"accepted": True, "goal_before": 0.82, "goal_after": 0.85}]}
    assert cross_validated_gain(single).startswith("+0.050 (cba:ABBR")


def test_reported_held_out_metrics_are_out_of_fold_not_the_refitted_models_own_rows(trec6_slice, workspace, capsys):
    """Issue 23 item 4: with the default refit on train + validation, scoring the reported models on validation
    scores them on their own training rows. The report gives the cross-validated metrics instead, equal to the
    search's own M0 baseline."""
    import json

    from autogets.cli import main

    assert main(["improve", "--data", str(trec6_slice), "--class", "ABBR", "--generator", "eda", "--n", "2",
                 "--budget", "4", "--executor", "serial", "--workspace", str(workspace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    held = report["held_out"]
    assert held["kind"] == "cross_validated" and "validation" not in report
    assert held["m0"]["per_class"]["ABBR"]["cba"] == pytest.approx(report["decisions"][0]["goal_before"])
    assert held["m0"]["overall"]["accuracy"] < 0.99  # a model scored on its own rows is ~1.0 on this slice
