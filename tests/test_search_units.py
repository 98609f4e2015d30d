"""Window maths, GA operators, Random seeding, objectives: pure functions, no fitting."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from autogets.errors import SearchError
from autogets.search import make_strategy
from autogets.search.ga import (
    Individual,
    crossover,
    decode,
    lexicase_groups,
    mutate,
    mutation_rate,
    random_individual,
)
from autogets.search.hsw import best_ties
from autogets.search.objectives import parse_goal
from autogets.search.random_search import random_selection
from autogets.search.windows import inside, sliding_windows, topic_min_max


def test_sw_has_169_windows_per_pair():
    assert len(sliding_windows((0, 16, 0, 16), 16, 4)) == 169


@pytest.mark.parametrize("segments, size, expected", [(8, 4, 25), (4, 2, 9), (2, 1, 4)])
def test_hsw_level_window_counts(segments, size, expected):
    assert len(sliding_windows((0, 1, 0, 1), segments, size)) == expected


def test_window_geometry_and_order():
    windows = sliding_windows((0, 16, 0, 32), 16, 4)
    assert windows[0] == (0, 4, 0, 8)
    assert windows[1] == (0, 4, 2, 10)  # inner loop is y
    assert windows[13] == (1, 5, 0, 8)
    assert windows[-1] == (12, 16, 24, 32)


def test_topic_min_max_is_the_papers_formula():
    xy = np.array([[-2.0, 1.0], [3.0, 5.0]])
    assert topic_min_max(xy) == pytest.approx((-2.02, 3.03, 1.01, 5.05))


def test_inside_includes_edges():
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [1.0001, 0.5]])
    assert inside((0, 1, 0, 1), xy).tolist() == [True, True, False]


def test_best_ties_keeps_all_ties():
    class E:
        def __init__(self, v):
            self.key = (v, 0.0)

    scored = [("w1", E(0.8)), ("w2", E(0.9)), ("w3", E(0.9)), ("w4", E(0.7))]
    assert best_ties(scored) == ["w2", "w3"]
    assert best_ties([]) == []


def test_decode_selects_round_mean_smallest_priorities():
    pool = np.array([10, 11, 12, 13])
    genes = np.arange(4)
    # mean 2.5 → Python's round gives 2 (the authors' code used Python's round too): priorities 1 and 2
    assert decode(genes, np.array([4, 1, 3, 2]), pool) == frozenset({11, 13})
    assert decode(genes, np.array([4, 1, 3, 3]), pool) == frozenset({11, 12, 13})  # mean 2.75 → 3, stable ties
    assert decode(genes, np.array([1, 1, 1, 1]), pool) == frozenset({10})
    assert decode(genes, np.array([4, 4, 4, 4]), pool) == frozenset({10, 11, 12, 13})


def test_crossover_keeps_multiset_of_priorities_and_genes():
    rng = np.random.default_rng(0)
    for seed in range(20):
        a, b = random_individual(12, seed), random_individual(12, seed + 100)
        c, d = crossover(a, b, rng)
        assert Counter(np.concatenate([a.priorities, b.priorities]).tolist()) == Counter(
            np.concatenate([c.priorities, d.priorities]).tolist())
        assert sorted(c.genes.tolist()) == list(range(12)) and sorted(d.genes.tolist()) == list(range(12))


def test_crossover_swaps_tail_priorities_rank_wise():
    a = Individual(np.arange(4), np.array([1, 2, 9, 7]))
    b = Individual(np.arange(4), np.array([3, 4, 5, 6]))

    class FixedCut:
        def integers(self, lo, hi):
            return 2

    c, d = crossover(a, b, FixedCut())
    # a's tail genes (2: 9, 3: 7) sorted by priority → genes [3, 2]; they take b's sorted tail priorities [5, 6]
    assert c.genes.tolist() == [0, 1, 3, 2] and c.priorities.tolist() == [1, 2, 5, 6]
    assert d.genes.tolist() == [0, 1, 2, 3] and d.priorities.tolist() == [3, 4, 7, 9]


def test_mutation_stays_in_bounds_and_rate_decays():
    rng = np.random.default_rng(1)
    ind = random_individual(30, 3)
    for _ in range(50):
        m = mutate(ind, 1.0, rng)
        assert m.priorities.min() >= 1 and m.priorities.max() <= 30
    assert np.array_equal(mutate(ind, 0.0, rng).priorities, ind.priorities)
    assert mutation_rate(0) == pytest.approx(0.3) and mutation_rate(15) == 0 and mutation_rate(5) == pytest.approx(0.2)


def test_random_selection_is_seeded():
    pool = np.arange(100, 150)
    assert random_selection(pool, 3) == random_selection(pool, 3)
    assert random_selection(pool, 3) != random_selection(pool, 4)
    assert all(0 < len(random_selection(pool, i)) <= 50 for i in range(30))


def test_lexicase_groups_put_target_with_accuracy_first():
    groups = lexicase_groups(("A", "B", "C", "D"), np.array([10, 500, 300, 100]), "C")
    assert groups[0] == ["accuracy", "C"]
    assert [c for g in groups[1:] for c in g] == ["B", "D", "A"]


def test_goal_parsing_and_errors():
    goal = parse_goal("recall:ABBR, recall:LOC")
    assert goal.goals == (("recall", "ABBR"), ("recall", "LOC")) and goal.target == "ABBR"
    with pytest.raises(SearchError, match="bad goal"):
        parse_goal("ABBR")
    with pytest.raises(SearchError, match="unknown strategy"):
        make_strategy("tabu")
