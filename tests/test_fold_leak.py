"""Issue 23 item 3: a held-out row must not reach its own fold through a few-shot prompt.

Each generation records the real texts its prompt showed; a cv fold drops every synthetic text whose source or any
shown text it holds out (one rule, :meth:`Problem.leaks`, on the slow and the fast path); the few-shot generator
draws shots that share the source's folds, fixed before generation (:mod:`autogets.folds`), so a fold keeps as many
children as when only the source counted."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autogets.data import load_dataset, split_dataset
from autogets.folds import assign_folds, held_out
from autogets.generators.base import RawOutput, Synthetic
from autogets.generators.cache import GenerationCache, synthesize, text_hash
from autogets.generators.embedded import EmbeddedGenerator
from autogets.pipeline import build_problem, fold_affinity
from autogets.search.evaluator import fit_candidate, fold_rows
from autogets.workspace import Workspace


@pytest.fixture(scope="module")
def split():
    return split_dataset(load_dataset("trec6"), seed=42)


def test_folds_are_stratified_cover_every_row_once_per_repeat_and_differ_between_repeats():
    labels = np.array(["a"] * 53 + ["b"] * 11 + ["c"] * 5)
    assignment = assign_folds(labels, folds=5, repeats=2, seed=3)
    for r in range(2):
        for cls in "abc":
            counts = np.bincount(assignment[r][labels == cls], minlength=5)
            assert counts.max() - counts.min() <= 2 and counts.min() >= 1  # the 5-row class: one per fold
    folds = held_out(assignment)
    assert len(folds) == 10
    for r in range(2):
        assert sorted(np.concatenate(folds[5 * r:5 * r + 5]).tolist()) == list(range(len(labels)))
    assert not np.array_equal(assignment[0], assignment[1])
    # rows come in groups that share their fold in both repeats: 10 groups for a class of ≥ 10 rows
    assert len(set(zip(assignment[0][labels == "a"], assignment[1][labels == "a"], strict=True))) == 10


def test_fold_assignment_is_the_same_for_class_names_and_their_codes():
    names = np.array(["z", "a", "z", "m", "a", "z", "m", "m", "a", "z"] * 3)
    codes = np.array([{"a": 0, "m": 1, "z": 2}[n] for n in names])
    np.testing.assert_array_equal(assign_folds(names, seed=7), assign_folds(codes, seed=7))


def test_build_problem_holds_out_the_folds_the_shots_were_drawn_for(split):
    prepared = build_problem(split, [], "ABBR", classifier="linear", fitness="cv", seed=42)
    affinity = fold_affinity(split, 42)
    texts = [*split.train["text"], *split.validation["text"]]
    for f, held in enumerate(prepared.problem.held_out):
        repeat, fold = divmod(f, 5)
        assert all(affinity[texts[i]][repeat] == fold for i in held)


def _child(split, source_row: int, shown_rows: list[int], index: int = 0) -> Synthetic:
    real = [*split.train["text"], *split.validation["text"]]
    source = split.train.iloc[source_row]
    return Synthetic(source_id=int(source.id), sample_index=index, text=f"a paraphrase {index} of {source.text}",
                     label=source.label, generator="test", model="m", prompt_version="v",
                     shown=tuple(text_hash(real[i]) for i in shown_rows))


def test_a_fold_drops_a_child_whose_shot_it_holds_out(split):
    abbr = [i for i, lab in enumerate(split.train["label"]) if lab == "ABBR"]
    problem = build_problem(split, [], "ABBR", classifier="linear", fitness="cv", seed=42).problem
    held = problem.held_out[0]
    source = next(i for i in abbr if i not in set(held))
    shot = next(i for i in abbr if i in set(held))
    plain, shown = _child(split, source, []), _child(split, source, [shot], index=1)
    problem = build_problem(split, [plain, shown], "ABBR", classifier="linear", fitness="cv", seed=42).problem
    rows = problem.rows_for(tuple(problem.synth_rows))
    kept = set(fold_rows(problem, rows, held).tolist())
    plain_row, shown_row = problem.synth_rows[plain.source_id]
    assert plain_row in kept  # its source is kept and it showed nothing held out
    assert shown_row not in kept  # its shot is held out in this fold
    other = next(h for h in problem.held_out if source not in set(h) and shot not in set(h))
    assert shown_row in set(fold_rows(problem, rows, other).tolist())


def test_the_fast_path_applies_the_same_rule_to_shots():
    """On dense features (closed-form head from cached per-fold sums), children whose shots a fold holds out are left
    out exactly as on the slow path, and that changes the score: the rule is applied, not ignored."""
    from tests.test_fast_fitness import problem_with_synthetic

    fast = problem_with_synthetic("cv", seed=2, other_class_synthetic=True)
    assert fast.gram is not None
    n_real = fast.n_real
    shots = np.full(len(fast.origin), n_real, dtype=np.int64)
    for row in range(n_real, len(fast.origin)):  # each child "showed" two other real rows of its class
        same = np.flatnonzero(fast.y[:n_real] == fast.y[row])
        shots[row] = same[(row * 7) % len(same)]
    with_shots = replace(fast, origin=np.column_stack([fast.origin, shots]))
    everything = tuple(sorted(fast.synth_rows))
    a, b = fit_candidate(with_shots, everything), fit_candidate(replace(with_shots, gram=None), everything)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(fit_candidate(fast, everything)[0], a[0])


class ShowingGenerator:
    """Shows the first two context texts in every prompt, as a few-shot generator does, and says so."""

    name, model, prompt_version = "showing", "show-1", "v1"
    uses_context = True

    def generate(self, examples, n_per_example, *, class_name, context=(), seed=0):
        for ex in examples:
            shots = tuple(t for t in context if t != ex.text)[:2]
            yield RawOutput(example=ex, texts=tuple(f"variant {i} of {ex.text}" for i in range(n_per_example)),
                            shown=shots)


def test_what_a_prompt_showed_is_recorded_and_served_from_the_cache(workspace, split):
    from autogets.generators.base import SourceExample

    cache = GenerationCache(Workspace(workspace).db())
    rows = split.train[split.train["label"] == "ABBR"].head(4)
    examples = [SourceExample(id=int(r.id), text=r.text, label="ABBR") for r in rows.itertuples()]
    context = list(rows["text"])
    first = synthesize(ShowingGenerator(), examples, n_per_example=2, class_name="ABBR", cache=cache,
                       context=context)
    again = synthesize(ShowingGenerator(), examples, n_per_example=2, class_name="ABBR", cache=cache,
                       context=context)
    assert again.generated == 0 and again.cached == len(examples)
    for result in (first, again):
        for s in result.synthetic:
            source = next(e.text for e in examples if e.id == s.source_id)
            expected = [t for t in context if t != source][:2]
            assert s.shown == tuple(text_hash(t) for t in expected)


def _kept_share(split, seed: int, shots_of) -> float:
    """Mean share, over the folds that keep a child's source, of the ABBR children a fold also keeps."""
    problem = build_problem(split, [], "ABBR", classifier="linear", fitness="cv", seed=seed).problem
    real = [*split.train["text"], *split.validation["text"]]
    row_of = {t: i for i, t in enumerate(real)}
    abbr = [t for t, lab in zip(split.train["text"], split.train["label"], strict=True) if lab == "ABBR"]
    shares = []
    for held in problem.held_out:
        out = set(held.tolist())
        mine = [t for t in abbr if row_of[t] not in out]
        shares.append(np.mean([not any(row_of[s] in out for s in shots_of(t, abbr)) for t in mine]))
    return float(np.mean(shares))


def test_shots_that_share_the_source_folds_keep_children_in_their_folds(split):
    """Spread shots (the old draw) lose most children of a fold that keeps their source; fold-aware shots keep
    nearly all of them (the number is in benchmarks/results/2026-12-05-fold-leak.md)."""
    gen = EmbeddedGenerator()
    affinity = fold_affinity(split, 42)
    from autogets.generators.base import SourceExample

    def spread(text, context):
        return gen.choose_shots(SourceExample(id=0, text=text, label="ABBR"), context)

    def aware(text, context):
        return gen.choose_shots(SourceExample(id=0, text=text, label="ABBR"), context, affinity)

    before, after = _kept_share(split, 42, spread), _kept_share(split, 42, aware)
    assert after > 0.9 > 0.7 > before
