"""The evaluator and the strategies on real TREC-6 data with EDA synthetic texts (fast and deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from autogets.data import load_dataset, split_dataset
from autogets.errors import SearchError
from autogets.executor import LocalExecutor, SerialExecutor
from autogets.generators.cache import GenerationCache
from autogets.generators.eda import EDAGenerator
from autogets.pipeline import build_problem, class_views, fit_model, synthesize_class
from autogets.search import Budget, Evaluator, make_strategy, run_strategy
from autogets.search.objectives import make_objective, parse_goal
from autogets.workspace import Workspace


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    split = split_dataset(load_dataset("trec6"), seed=42)
    cache = GenerationCache(Workspace(tmp_path_factory.mktemp("ws")).db())
    gen = synthesize_class(cache, EDAGenerator(), split, "ABBR", dataset="trec6", n_per_example=3)
    prepared = build_problem(split, gen.synthetic, "ABBR")
    m0 = fit_model(prepared, frozenset())
    view = class_views(split, m0, ["ABBR"])["ABBR"]
    return split, prepared, view


def evaluator(prepared, n=50, executor=None, objective="cba"):
    return Evaluator(prepared.problem, make_objective(objective, "ABBR"), Budget(max_evaluations=n),
                     executor or SerialExecutor())


def test_problem_holds_train_validation_and_synthetic_rows_only(setup):
    split, prepared, _ = setup
    p = prepared.problem
    assert p.X.shape[0] == len(split.train) + len(split.validation) + len(prepared.synthetic)
    assert len(p.val_rows) == len(split.validation)
    test_texts = set(split.test["text"])
    assert not test_texts & {s.text for s in prepared.synthetic}
    # the featuriser never saw a test text: a token only in the test split has no column
    words = prepared.featurizer.transformer_list[0][1]
    analyse = words.build_analyzer()
    seen = {tok for t in [*split.train["text"], *split.validation["text"], *(s.text for s in prepared.synthetic)]
            for tok in analyse(t)}
    only_test = {tok for t in test_texts for tok in analyse(t)} - seen
    vocab = words.vocabulary_
    assert only_test and not only_test & set(vocab)


def test_search_never_depends_on_test_labels(setup):
    split, prepared, view = setup
    scrambled = split.test.assign(label=np.random.default_rng(0).permutation(split.test["label"].to_numpy()))
    assert not (scrambled["label"] == split.test["label"]).all()
    # build again from a split whose test labels are scrambled: everything the search sees must be identical
    from autogets.data import Split

    split2 = Split(train=split.train, validation=split.validation, test=scrambled, seed=split.seed)
    prepared2 = build_problem(split2, prepared.synthetic, "ABBR")
    a = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator(prepared, 40))
    b = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator(prepared2, 40))
    assert [e.key for e in a.history] == [e.key for e in b.history]
    assert a.best.selection == b.best.selection


def test_cache_hits_are_free_and_budget_stops_exactly(setup):
    _, prepared, _ = setup
    ev = evaluator(prepared, n=5)
    pool = sorted(ev.pool)
    sels = [frozenset(pool[:k]) for k in range(1, 9)]
    first = ev.evaluate(sels[:3] + sels[:3])
    assert ev.budget.evaluations == 3 and first[0] is first[3]
    out = ev.evaluate(sels)
    assert ev.budget.evaluations == 5 and ev.exhausted
    assert out[:5] == [first[0], first[1], first[2], out[3], out[4]] and out[5:] == [None, None, None]
    assert ev.evaluate([sels[0]]) == [first[0]]  # cached result still served after exhaustion
    assert ev.budget.evaluations == 5


def test_selection_is_normalised_to_sources_with_children(setup):
    _, prepared, _ = setup
    ev = evaluator(prepared, n=3)
    pool = sorted(ev.pool)
    a, b = ev.evaluate([{pool[0], -999}, {pool[0]}])
    assert a is b and ev.budget.evaluations == 1


def test_baseline_is_m0_and_adding_texts_changes_training_size(setup):
    _, prepared, _ = setup
    ev = evaluator(prepared, n=2)
    assert ev.baseline.n_synthetic == 0 and ev.baseline.gain == 0.0
    (all_,) = ev.evaluate([ev.pool])
    assert all_.n_synthetic == len(prepared.synthetic)
    assert ev.best().key >= ev.baseline.key


@pytest.mark.parametrize("name", ["sw", "hsw", "ga", "random"])
def test_every_strategy_respects_budget_and_never_loses_to_m0_on_validation(setup, name):
    _, prepared, view = setup
    ev = evaluator(prepared, n=30)
    result = run_strategy(make_strategy(name, seed=1), view, ev)
    assert result.evaluations == 30
    assert result.best.key >= result.baseline.key
    assert result.stopped_because == "budget"


def test_hsw_evaluates_at_most_38_windows_per_pair_and_expands_ties(setup):
    _, prepared, view = setup
    ev = evaluator(prepared, n=1000)
    strategy = make_strategy("hsw", max_pairs=1)
    result = run_strategy(strategy, view, ev, include_all=False)
    assert 1 <= result.evaluations <= 25 + 9 * 25 + 4 * 9 * 25
    levels = {c.level for c in result.windows.values()}
    assert levels == {0, 1, 2}


def test_seconds_budget(setup):
    _, prepared, view = setup
    ev = Evaluator(prepared.problem, make_objective("cba", "ABBR"), Budget(max_fit_seconds=0.5), SerialExecutor())
    result = run_strategy(make_strategy("random"), view, ev)
    assert result.fit_seconds >= 0.5 and result.stopped_because == "budget"
    assert result.fit_seconds - result.history[-1].fit_seconds < 0.5  # stopped right after crossing


def test_serial_and_parallel_give_identical_results(setup):
    _, prepared, view = setup
    serial = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator(prepared, 24))
    with LocalExecutor(2) as pool:
        parallel = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator(prepared, 24, pool))
    assert [e.selection for e in serial.history] == [e.selection for e in parallel.history]
    assert [e.key for e in serial.history] == [e.key for e in parallel.history]


def test_one_pool_serves_successive_problems(setup):
    """A started pool reloads the state when a new search starts: the second problem's answers are its own."""
    from dataclasses import replace

    _, prepared, view = setup
    half = dict(list(prepared.problem.synth_rows.items())[::2])
    other = replace(prepared.problem, synth_rows=half, base_rows=np.arange(prepared.problem.n_train - 200))
    selections = [list(half)[:k] for k in (1, 3, 5)]

    def scores(problem, executor):
        ev = Evaluator(problem, make_objective("recall", "ABBR"), Budget(max_evaluations=10), executor)
        return [(e.metrics.accuracy, e.margin, e.n_synthetic) for e in ev.evaluate(selections)]

    with LocalExecutor(2) as pool:
        first, second = scores(prepared.problem, pool), scores(other, pool)
        pids = set(pool.map(_pid, [0, 1, 2, 3]))
    assert first == scores(prepared.problem, SerialExecutor())
    assert second == scores(other, SerialExecutor())
    assert first != second
    assert pool._pool is None and len(pids) <= 2


def _pid(state, item):
    import os

    return os.getpid()


def test_multi_objective_filters_then_sorts(setup):
    _, prepared, view = setup
    ev = Evaluator(prepared.problem, parse_goal("recall:ABBR,recall:LOC"), Budget(max_evaluations=20),
                   SerialExecutor())
    result = run_strategy(make_strategy("random"), view, ev)
    best = result.best
    if best is not result.baseline:
        assert best.key[0] == 1.0  # passed the filter
        assert best.metrics.accuracy >= result.baseline.metrics.accuracy


def test_unknown_objective():
    with pytest.raises(SearchError, match="unknown objective"):
        make_objective("auc", "ABBR")
