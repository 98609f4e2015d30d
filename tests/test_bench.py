"""`autogets bench quality` (the --quick harness CI runs), its tables and tests, and its bad-input handling."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pandas as pd
import pytest

from autogets.bench.quality import Cell
from autogets.bench.speed import find_row
from autogets.bench.tables import frame, markdown, paired_vs_random, pooled_vs_random
from autogets.cli import main
from autogets.data import load_dataset

PNG = b"\x89PNG\r\n\x1a\n"


def _results(out_dir, name):
    (json_path,) = out_dir.glob(f"*-{name}.json")
    (md_path,) = out_dir.glob(f"*-{name}.md")
    return json.loads(json_path.read_text()), md_path.read_text()


@pytest.mark.slow  # 3–6 min (the embedded LLM writes texts for two classes); the EDA-only bench tests below stay
def test_quick_quality_bench_end_to_end(workspace, tmp_path, capsys):
    """The CI harness: one seed, budget 20, the two smallest classes, both generators (embedded LLM and EDA)."""
    out_dir = tmp_path / "results"
    args = ["bench", "quality", "--dataset", "trec6", "--quick", "--workspace", str(workspace), "--out", str(out_dir)]
    assert main(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    result, md = _results(out_dir, "quality-trec6-quick")
    cells = [Cell(**c) for c in result["cells"]]
    assert {c.cls for c in cells} == {"ABBR", "LOC"}  # the two smallest classes of trec6
    # per class: class-weighted + m0-trainval + per generator (add-all + 2 objectives × (4 strategies + improve))
    assert len(cells) == 2 * (2 + 2 * (1 + 2 * 5))
    searches = [c for c in cells if c.method in ("random", "sw", "hsw", "ga")]
    assert all(0 < c.evaluations <= 20 for c in searches)
    assert all(c.val_gain >= 0 for c in searches)  # "none" (M0) is always a candidate: never worse on validation
    from autogets.bench.quality import CellStore, QualityConfig
    from autogets.workspace import Workspace

    quick = replace(QualityConfig.quick(), classifier="linear")  # the suite pins AUTOGETS_CLASSIFIER=linear
    stored = CellStore(Workspace(workspace), quick.cell_key(load_dataset("trec6")), "trec6").done()
    assert all(len(stored[c.pk].curve) == c.evaluations for c in searches)  # best-so-far curves stay in the workspace
    assert {c.generator for c in cells} == {"embedded", "eda", "-"}
    assert {c.classifier for c in cells} == {"linear"} and {c.classifier for c in stored.values()} == {"linear"}
    assert "## M0's classifier" in md and "| ABBR | `linear` 1 |" in md
    assert all(c.n_synthetic > 0 for c in cells if c.method == "add-all")
    assert "| ABBR |" in md and "paper +0.0785" in md  # SW/LLM ABBR CBA gain of the paper's Table 11
    for name in result["plots"].values():
        assert (out_dir / name).read_bytes().startswith(PNG)
    assert not list(out_dir.glob(".quality-*"))  # no staging leftovers

    # the add-all cell, recomputed through the ordinary pipeline (texts in, predictions out)
    from autogets.data import split_dataset
    from autogets.generators import make_generator
    from autogets.generators.cache import GenerationCache
    from autogets.pipeline import build_problem, fit_model, real_rows, synthesize_class, test_metrics

    split = split_dataset(load_dataset("trec6"), seed=42)
    syn = synthesize_class(GenerationCache(Workspace(workspace).db()), make_generator("eda"), split, "ABBR",
                           dataset="trec6", n_per_example=5, seed=42, max_sources=10).synthetic
    prepared = build_problem(split, syn, "ABBR")
    real = real_rows(prepared.problem)  # reported models and their M0 are refitted on train + validation
    everything = test_metrics(fit_model(prepared, frozenset(s.source_id for s in syn), base_rows=real), split)
    m0 = test_metrics(fit_model(prepared, frozenset(), base_rows=real), split)
    (add_all,) = [c for c in cells if (c.cls, c.generator, c.method) == ("ABBR", "eda", "add-all")]
    assert add_all.cba == pytest.approx(everything.value("cba", "ABBR"))
    assert add_all.m0_cba == pytest.approx(m0.value("cba", "ABBR"))
    assert add_all.oba == pytest.approx(everything.oba)

    # resumable: a second run measures nothing again and reports the same cells
    assert main([*args, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cells"] == len(cells)
    result2, _ = _results(out_dir, "quality-trec6-quick")
    assert result2["cells"] == result["cells"]


def test_quality_bench_on_any_labelled_csv(workspace, tmp_path, capsys):
    frame_ = load_dataset("trec6").frame
    small = pd.concat([frame_[frame_["label"] == c].head(n) for c, n in (("ABBR", 60), ("LOC", 150), ("NUM", 200))])
    path = tmp_path / "questions.csv"
    small.rename(columns={"text": "question", "label": "kind"})[["question", "kind"]].to_csv(path, index=False)
    out_dir = tmp_path / "results"
    code = main(["bench", "quality", "--data", str(path), "--text-col", "question", "--label-col", "kind", "--quick",
                 "--generator", "eda", "--no-improve", "--workspace", str(workspace), "--out", str(out_dir)])
    assert code == 0, capsys.readouterr().err
    result, md = _results(out_dir, "quality-questions-quick")
    assert {c["cls"] for c in result["cells"]} == {"ABBR", "LOC"}
    assert "paper" not in md  # the paper's numbers are for trec6 only
    assert not any(c["method"] == "improve" for c in result["cells"])


@pytest.mark.parametrize("bad, message", [
    (["--strategy", "bogus"], "unknown strategy 'bogus'"),
    (["--class", "NOPE"], "unknown class 'NOPE'"),
    (["--objective", "speed"], "unknown objective 'speed'"),
    (["--generator", "gpt9"], "unknown generator 'gpt9'"),
    (["--shots", "nearest"], "unknown shots 'nearest'"),
])
def test_quality_bench_bad_input_is_one_line_and_writes_nothing(bad, message, workspace, tmp_path, capsys):
    out_dir = tmp_path / "results"
    code = main(["bench", "quality", "--dataset", "trec6", "--quick", *bad, "--workspace", str(workspace),
                 "--out", str(out_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]
    assert not out_dir.exists() and not workspace.exists()


def _cell(seed, method, cba, cls="ABBR", generator="embedded", objective="cba"):
    return Cell(seed, cls, generator, objective, method, 0.01, 0.80, cba, 0.90, 0.90, 0.85, 0.85, 3, 15, 20, 1.0)


def test_paired_tests_find_a_consistent_winner_and_not_noise():
    seeds = range(5)
    noise = [0.003, -0.002, 0.001, 0.0, -0.001]
    cells = [_cell(s, "random", 0.80 + noise[s]) for s in seeds]
    cells += [_cell(s, "sw", 0.83 + noise[s] * 2) for s in seeds]  # +0.03 on every seed
    cells += [_cell(s, "ga", 0.80 + noise[4 - s]) for s in seeds]  # the same values, shuffled: no effect
    cells += [_cell(s, "hsw", 0.80 + noise[s]) for s in seeds]  # identical to Random
    per = paired_vs_random(frame(cells)).set_index("method")
    assert per.loc["sw", "diff_mean"] == pytest.approx(0.03, abs=1e-3) and per.loc["sw", "p"] < 0.001
    assert per.loc["ga", "p"] > 0.2
    assert math.isnan(per.loc["hsw", "p"])
    pooled = pooled_vs_random(frame(cells)).set_index("method")
    assert pooled.loc["sw", "wins"] == 5 and pooled.loc["hsw", "ties"] == 5
    md = markdown(cells, dataset="trec6", config={"budget": 20})
    assert "| ABBR | +0.0302 (p 0.000 *) |" in md


def test_the_results_page_says_on_how_many_classes_improve_beats_add_all_and_random():
    cells = []
    for s in range(3):
        cells += [_cell(s, "random", 0.81, cls="ABBR"), _cell(s, "add-all", 0.82, cls="ABBR"),
                  _cell(s, "improve", 0.83 + 0.01 * s, cls="ABBR")]            # beats both: +0.04 on average
        cells += [_cell(s, "random", 0.81, cls="LOC"), _cell(s, "add-all", 0.85, cls="LOC"),
                  replace(_cell(s, "improve", 0.84, cls="LOC"), oba=0.88)]    # loses to add-all, costs OBA
    cells += [_cell(0, m, 0.9, cls="HUM") for m in ("random", "improve")]     # no add-all cell: not counted
    md = markdown(cells, dataset="trec6", config={"budget": 20})
    assert "| ABBR | +0.0400 | +0.0200 | +0.0100 | +0.0200 | +0.0300 | yes | +0.0000 |" in md
    assert "| LOC | +0.0400 | +0.0500 | +0.0100 | -0.0100 | +0.0300 | no | -0.0200 |" in md
    assert "`improve` beats both on 1 of 2 classes; mean class-CBA gain +0.0400, mean OBA change -0.0100." in md


@pytest.mark.slow
def test_speed_bench_end_to_end(workspace, tmp_path, capsys):
    """`bench speed` runs a real `improve` in a child process (embedded LLM) and times search and generation."""
    out_dir = tmp_path / "results"
    assert main(["bench", "speed", "--classifier", "linear", "--evaluations", "40", "--workspace", str(workspace),
                 "--out", str(out_dir)]) == 0, capsys.readouterr().err
    (path,) = out_dir.glob("*-speed.json")
    result = json.loads(path.read_text())
    s = result["summary"]
    assert s["evaluations_per_second"] > 0 and s["texts_per_minute"] > 0
    assert 500 < s["improve_peak_rss_mib"] < 24 * 1024  # the child loaded the embedded model
    row = find_row(result["search"], classifier="linear", executor="local", fitness="cv")
    assert row["evaluations"] == 40 and row["sw_one_pair"]["windows_evaluated"] > 0
    assert s["row"] == {"classifier": "linear", "executor": "local", "fitness": "cv"}
    assert find_row(result["search"], classifier="linear", executor="local", fitness="validation")


def test_throughput_estimate_follows_amdahl_from_what_was_measured():
    from autogets.bench.speed import throughput_estimate

    # 100 evaluations on 2 workers: 10 s wall, 8 s inside map, fits of 0.15 s -> d = 0.02, o = 2*8/100 - 0.15 = 0.01
    est = throughput_estimate(evaluations=100, wall_seconds=10.0, map_seconds=8.0, mean_fit_seconds=0.15, workers=2)
    assert est["driver_seconds_per_evaluation"] == pytest.approx(0.02)
    assert est["overhead_seconds_per_evaluation"] == pytest.approx(0.01)
    rates = {int(n): r for n, r in est["evaluations_per_second_on_n_workers"].items()}
    assert rates[2] == pytest.approx(100 / 10.0, rel=1e-2)          # reproduces the measured rate
    assert all(rates[a] < rates[b] for a, b in zip(sorted(rates), sorted(rates)[1:], strict=False))
    assert max(rates.values()) < est["ceiling_evaluations_per_second"] == 50.0


@pytest.mark.slow
def test_search_bench_times_each_fitness_with_an_estimate(workspace, tmp_path, capsys):
    out_dir = tmp_path / "results"
    args = ["bench", "search", "--evaluations", "12", "--fitness", "validation", "--fitness", "cv",
            "--workspace", str(workspace), "--out", str(out_dir)]
    assert main(args) == 0, capsys.readouterr().err
    (path,) = out_dir.glob("*-search.json")
    rows = {r["fitness"]: r for r in json.loads(path.read_text())["rows"]}
    assert set(rows) == {"validation", "cv"}
    for r in rows.values():
        assert r["executor"] == "local" and r["workers"] == 2
        assert r["evaluations"] == 12 and r["sw_one_pair"]["windows_evaluated"] > 0
        assert r["estimate"]["evaluations_per_second_on_n_workers"]["128"] > r["evaluations_per_second"]
    assert rows["cv"]["fits_per_candidate"] == 10 and rows["validation"]["fits_per_candidate"] == 1
    assert rows["cv"]["mean_fit_seconds"] > 3 * rows["validation"]["mean_fit_seconds"]  # 10 fits of 80 % vs 1


@pytest.mark.parametrize("bad, message", [
    (["--executor", "spark"], "unknown executor 'spark'"),
    (["--fitness", "test"], "unknown fitness 'test'"),
    (["--ray-address", "auto"], "--ray-address needs --executor ray"),
])
def test_search_bench_bad_options_are_one_line_and_write_nothing(bad, message, workspace, tmp_path, capsys):
    out_dir = tmp_path / "results"
    assert main(["bench", "search", *bad, "--workspace", str(workspace), "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out_dir.exists() and not workspace.exists()


# --- the external test (issue 21): banking_dev brings one; a user's file; gains reported beside the split's test


def test_quick_quality_bench_on_banking_dev_scores_the_bundled_external_test(workspace, tmp_path, capsys):
    from autogets.bench.quality import CellStore, ExternalTest, QualityConfig
    from autogets.data import external_test, split_dataset
    from autogets.generators import make_generator
    from autogets.generators.cache import GenerationCache
    from autogets.metrics import compute_metrics
    from autogets.pipeline import build_problem, fit_model, real_rows, synthesize_class
    from autogets.workspace import Workspace

    out_dir = tmp_path / "results"
    args = ["bench", "quality", "--dataset", "banking_dev", "--quick", "--generator", "eda", "--no-improve",
            "--strategy", "random", "--objective", "cba", "--workspace", str(workspace), "--out", str(out_dir)]
    assert main(args) == 0, capsys.readouterr().err
    result, md = _results(out_dir, "quality-banking_dev-quick")
    assert result["external_test"]["rows"] == 958 and result["external_test"]["overlap_dropped"] == 0
    assert result["external_test"]["source"] == "banking_dev_test.csv (bundled)"
    cells = [Cell(**c) for c in result["cells"]]
    assert {c.cls for c in cells} == {"card_delivery_estimate", "top_up_failed"}  # the two smallest intents
    assert {c.method for c in cells} == {"random", "add-all", "class-weighted", "m0-trainval"}
    for c in cells:  # every model scored on both; 958 external texts against a 514-text split test
        ext = (c.ext_m0_cba, c.ext_cba, c.ext_m0_oba, c.ext_oba, c.ext_m0_accuracy, c.ext_accuracy)
        assert all(0 <= v <= 1 for v in ext), c
        assert (c.ext_m0_accuracy, c.ext_accuracy) != (c.m0_accuracy, c.accuracy), c
    assert any(c.ext_m0_cba != c.m0_cba for c in cells)

    # the add-all cell's external metrics, recomputed through the ordinary pipeline (texts in, predictions out)
    ds = load_dataset("banking_dev")
    ext_frame = external_test("banking_dev")
    split = split_dataset(ds, seed=42)
    syn = synthesize_class(GenerationCache(Workspace(workspace).db()), make_generator("eda"), split, "top_up_failed",
                           dataset="banking_dev", n_per_example=5, seed=42, max_sources=10).synthetic
    prepared = build_problem(split, syn, "top_up_failed")
    real = real_rows(prepared.problem)

    def on_external(selection):
        predicted = fit_model(prepared, selection, base_rows=real).predict(ext_frame["text"].tolist())
        return compute_metrics(ext_frame["label"].to_numpy(), predicted, split.classes)

    everything, m0 = on_external(frozenset(s.source_id for s in syn)), on_external(frozenset())
    (add_all,) = [c for c in cells if (c.cls, c.method) == ("top_up_failed", "add-all")]
    assert add_all.ext_cba == pytest.approx(everything.value("cba", "top_up_failed"))
    assert add_all.ext_m0_cba == pytest.approx(m0.value("cba", "top_up_failed"))
    assert add_all.ext_oba == pytest.approx(everything.oba)
    assert add_all.ext_accuracy == pytest.approx(everything.accuracy)

    # the cells are stored under a key with the external test's fingerprint, apart from runs without one
    external = ExternalTest.of(ext_frame, ds, "x")
    config = replace(QualityConfig.quick(), generators=("eda",), strategies=("random",), objectives=("cba",),
                     improve=False, classifier="linear")  # the suite pins AUTOGETS_CLASSIFIER=linear
    assert config.cell_key(ds) != config.cell_key(ds, external)
    with_ext = CellStore(Workspace(workspace), config.cell_key(ds, external), "banking_dev").done()
    assert set(with_ext) == {c.pk for c in cells}
    assert with_ext[add_all.pk].ext_cba == pytest.approx(add_all.ext_cba)
    assert not CellStore(Workspace(workspace), config.cell_key(ds), "banking_dev").done()

    # the results page: the external test's section, labelled with its size per class
    assert "## Gains on the external test (39–40 per class), beside the split's test" in md
    assert "| class | method | split test EDA | external test (39–40 per class) EDA |" in md
    assert f"| top\\_up\\_failed | add-all | {add_all.gain('cba'):+.4f} | {add_all.ext_gain('cba'):+.4f} |" in md
    summ = {(r["class"], r["method"]): r for r in result["summary"]}
    assert summ[("top_up_failed", "add-all")]["ext_gain_mean"] == pytest.approx(add_all.ext_gain("cba"))


def test_quality_bench_without_an_external_test(workspace, tmp_path, capsys):
    out_dir = tmp_path / "results"
    code = main(["bench", "quality", "--dataset", "banking_dev", "--quick", "--class", "top_up_failed",
                 "--generator", "eda", "--no-improve", "--strategy", "random", "--objective", "cba",
                 "--no-external-test", "--workspace", str(workspace), "--out", str(out_dir)])
    assert code == 0, capsys.readouterr().err
    result, md = _results(out_dir, "quality-banking_dev-quick")
    assert result["external_test"] is None
    assert all(math.isnan(c["ext_cba"]) for c in result["cells"])
    assert "external test" not in md


def test_quality_bench_takes_a_users_external_test_and_drops_texts_of_the_data_set(workspace, tmp_path, capsys):
    ds = load_dataset("banking_dev")
    ext = pd.concat([ds.frame[ds.frame["label"] == "top_up_failed"].head(2),   # texts of the data set: dropped
                     pd.DataFrame({"text": [f"my top up did not go through, attempt {i}" for i in range(6)]
                                   + [f"how do I change my pin number, question {i}" for i in range(6)],
                                   "label": ["top_up_failed"] * 6 + ["change_pin"] * 6})])
    path = tmp_path / "mine.csv"
    ext[["text", "label"]].to_csv(path, index=False)
    out_dir = tmp_path / "results"
    code = main(["bench", "quality", "--dataset", "banking_dev", "--quick", "--class", "top_up_failed",
                 "--generator", "eda", "--no-improve", "--strategy", "random", "--objective", "cba",
                 "--external-test", str(path), "--workspace", str(workspace), "--out", str(out_dir), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "external test: 2 texts that also occur in the data set dropped; 12 left" in captured.err
    assert json.loads(captured.out)["external_test"] == {"source": str(path), "rows": 12, "overlap_dropped": 2}
    result, md = _results(out_dir, "quality-banking_dev-quick")
    assert result["external_test"]["per_class"] == {"change_pin": 6, "top_up_failed": 6}
    assert "## Gains on the external test (6 per class), beside the split's test" in md
    cells = [Cell(**c) for c in result["cells"]]
    # 6 external texts of the class: its CBA there moves in steps of 1/12 of recall, unlike on the split's test
    assert all(not math.isnan(c.ext_cba) for c in cells)


def _bad_external(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return ["--external-test", str(path)]


@pytest.mark.parametrize("make, message", [
    (lambda p: _bad_external(p, "a.csv", "text,label\nwhere is my card,not_an_intent\n"),
     "external test {}: 1 labels are not classes of the data set: 'not_an_intent'"),
    (lambda p: _bad_external(p, "b.csv", "question,label\nwhere is my card,card_delivery_estimate\n"),
     "external test {}: no column 'text' (columns: question, label)"),
    (lambda p: _bad_external(p, "c.csv", ""), "{}: file is empty"),
    (lambda p: ["--external-test", str(p / "missing.csv")], "{}: no such file"),
    (lambda p: _bad_external(p, "d.csv", load_dataset("banking_dev").frame[["text", "label"]].head(3).to_csv(
        index=False)), "external test {}: all 3 texts also occur in the data set"),
    (lambda p: [*_bad_external(p, "e.csv", "text,label\nx,change_pin\n"), "--no-external-test"],
     "--external-test and --no-external-test contradict each other"),
])
def test_bad_external_test_is_one_line_exit_2_and_writes_nothing(make, message, workspace, tmp_path, capsys):
    extra = make(tmp_path)
    out_dir = tmp_path / "results"
    code = main(["bench", "quality", "--dataset", "banking_dev", "--quick", "--generator", "eda", *extra,
                 "--workspace", str(workspace), "--out", str(out_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert message.format(extra[1]) in err[0]
    assert not out_dir.exists() and not workspace.exists()


def test_external_gains_in_the_results_page_are_mean_and_std_over_seeds():
    cells = []
    for s, (test, ext) in enumerate([(0.80, 0.70), (0.80, 0.74), (0.80, 0.78)]):
        cells.append(replace(_cell(s, "sw", test), ext_m0_cba=0.70, ext_cba=ext, ext_m0_oba=0.9, ext_oba=0.9))
        cells.append(replace(_cell(s, "random", test), ext_m0_cba=0.70, ext_cba=0.70, ext_m0_oba=0.9, ext_oba=0.9))
    external = {"source": "/x/ext.csv", "rows": 80, "per_class": {"ABBR": 40, "LOC": 40}, "overlap_dropped": 2}
    md = markdown(cells, dataset="trec6", config={"budget": 20}, external=external)
    assert "## Gains on the external test (40 per class), beside the split's test" in md
    assert "ext.csv: 80 texts no split draws from (2 that also occur in the data set dropped)" in md
    # split test: +0.0000 on every seed; external: +0.00, +0.04, +0.08
    assert "| ABBR | sw | +0.0000 ± 0.0000 | +0.0400 ± 0.0400 |" in md
    assert "| ABBR | 40 | 0.800 | 0.700 |" in md
    assert "external test" not in markdown([_cell(0, "sw", 0.8)], dataset="trec6", config={"budget": 20})


def test_cells_stored_before_the_external_test_columns_load_with_nan(workspace):
    import sqlite3

    import sqlite_utils

    from autogets.bench.quality import CellStore
    from autogets.workspace import MIGRATIONS, Workspace

    workspace.mkdir()
    db = sqlite_utils.Database(sqlite3.connect(workspace / "autogets.db"))
    for migration in MIGRATIONS[:7]:
        migration(db)
    db.execute("CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO _meta VALUES ('schema_version', '7')")
    old = _cell(42, "sw", 0.83)
    row = {k: v for k, v in old.__dict__.items() if not k.startswith("ext_") and k != "classifier"}
    row["class"] = row.pop("cls")
    row["curve"] = "[0.01]"
    db["bench_cells"].insert({"config": "k", "dataset": "d", **row, "created_at": "t"})
    db.close()
    (cell,) = CellStore(Workspace(workspace), "k", "d").done().values()
    assert cell.cba == 0.83 and cell.curve == (0.01,)
    assert math.isnan(cell.ext_cba) and math.isnan(cell.ext_gain("cba"))
    assert cell.classifier == ""  # stored before cells recorded their M0 classifier (schema 13)
