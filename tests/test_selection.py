"""Selection that pays (issue 14): the cross-validated fitness, paired acceptance, refit rows, out-of-fold colours
and a generation cache key that holds the class and the few-shot context."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autogets.data import load_dataset, split_dataset
from autogets.ensemble import Phase, run_phases
from autogets.errors import GenerationError, SearchError
from autogets.executor import SerialExecutor
from autogets.generators.base import RawOutput, SourceExample
from autogets.generators.cache import GenerationCache, synthesize
from autogets.generators.eda import EDAGenerator
from autogets.metrics import metrics_from_confusion
from autogets.pipeline import (
    build_problem,
    class_views,
    final_rows,
    fit_model,
    out_of_fold,
    real_rows,
    synthesize_class,
)
from autogets.search import Budget, Evaluator
from autogets.search.evaluator import Evaluation, fold_rows
from autogets.search.objectives import make_objective
from autogets.search.robust import AcceptRule, choose, fold_gains, verdict
from autogets.workspace import Workspace


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    split = split_dataset(load_dataset("trec6"), seed=42)
    cache = GenerationCache(Workspace(tmp_path_factory.mktemp("ws")).db())
    gen = synthesize_class(cache, EDAGenerator(), split, "ABBR", dataset="trec6", n_per_example=2)
    cv = build_problem(split, gen.synthetic, "ABBR", fitness="cv", folds=5, repeats=2, seed=42)
    return split, gen.synthetic, cv


def test_cv_folds_cover_train_and_validation_and_repeat(setup):
    split, _, prepared = setup
    p = prepared.problem
    n_real = len(split.train) + len(split.validation)
    assert p.n_real == n_real and len(p.held_out) == 10
    for r in range(2):  # each repeat partitions train + validation
        assert np.array_equal(np.sort(np.concatenate(p.held_out[5 * r:5 * r + 5])), np.arange(n_real))
    assert np.array_equal(p.real(), np.arange(n_real))


def test_a_held_out_example_never_contributes_children_to_its_fold(setup):
    split, synthetic, prepared = setup
    p = prepared.problem
    rows = p.rows_for(p.synth_rows)
    train_row = {int(i): k for k, i in enumerate(split.train["id"])}
    for held in p.held_out:
        keep = fold_rows(p, rows, held)
        assert not set(keep) & set(held)
        kept_synth = keep[keep >= p.n_real]
        sources = {train_row[synthetic[r - p.n_real].source_id] for r in kept_synth}
        assert not sources & set(held)
        # every other synthetic row stays
        expected = [r for r in rows[rows >= p.n_real] if train_row[synthetic[r - p.n_real].source_id] not in held]
        assert np.array_equal(np.sort(kept_synth), np.sort(expected))


def test_cv_evaluation_keeps_per_fold_confusions_and_pools_them(setup):
    _, _, prepared = setup
    p = prepared.problem
    ev = Evaluator(p, make_objective("cba", "ABBR"), Budget(max_evaluations=2), SerialExecutor())
    (everything,) = ev.evaluate([ev.pool])
    assert everything.folds.shape == (10, len(p.classes), len(p.classes))
    assert everything.metrics.matrix.sum() == 2 * p.n_real  # every labelled example scored once per repeat
    assert len(everything.fold_metrics()) == 10
    assert everything.gain == pytest.approx(everything.metrics.value("cba", "ABBR")
                                            - ev.baseline.metrics.value("cba", "ABBR"))


def test_cv_folds_shrink_to_the_smallest_class(setup):
    split, synthetic, _ = setup
    smallest = int(min(split.train["label"].value_counts() + split.validation["label"].value_counts()))
    p = build_problem(split, synthetic, "ABBR", fitness="cv", folds=200, repeats=1).problem
    assert len(p.held_out) == smallest
    with pytest.raises(SearchError, match="unknown fitness"):
        build_problem(split, synthetic, "ABBR", fitness="test")


def _evaluation(per_fold_tp: list[int], selection=frozenset({1}), n=20) -> Evaluation:
    """Two classes; the target (class 0) has ``n`` examples per fold of which ``tp`` are right; class 1 all right."""
    folds = np.array([[[tp, n - tp], [0, n]] for tp in per_fold_tp])
    return Evaluation(selection, 0, metrics_from_confusion(folds.sum(axis=0), ("A", "B")), 0.0, 0.0, 0,
                      folds=folds)


def test_paired_rule_accepts_a_consistent_gain_and_rejects_noise():
    goal = make_objective("cba", "A")
    current = _evaluation([10] * 10, frozenset())
    steady = _evaluation([11] * 10)
    noisy = _evaluation([14, 7, 13, 8, 12, 9, 14, 7, 11, 10])  # same mean gain as ``steady``, large spread
    rule = AcceptRule(ratio=0.25)
    assert fold_gains(goal, steady, current) == pytest.approx([0.025] * 10)
    assert verdict(goal, steady, current, rule).accepted
    v = verdict(goal, noisy, current, rule)
    assert not v.accepted and "not above noise" in v.reason and v.mean > 0
    assert verdict(goal, noisy, current, AcceptRule(rule="no_drop")).accepted  # the paper's rule takes it
    assert choose(goal, [noisy, steady], current, rule)[0] is steady
    assert choose(goal, [noisy], current, rule)[0] is None


def test_paired_rule_rejects_an_accuracy_drop():
    goal = make_objective("cba", "A")
    current = _evaluation([10] * 10, frozenset())
    # the target gains, but class B loses more: OBA drops
    folds = np.array([[[12, 8], [6, 14]]] * 10)
    worse = Evaluation(frozenset({1}), 0, metrics_from_confusion(folds.sum(axis=0), ("A", "B")), 0.0, 0.0, 0,
                       folds=folds)
    v = verdict(make_objective("recall", "A"), worse, current, AcceptRule())
    assert not v.accepted and "OBA would drop" in v.reason
    assert not verdict(goal, worse, current, AcceptRule()).accepted


def test_an_oba_tolerance_lets_a_person_trade_accuracy_for_the_goal_class():
    recall = make_objective("recall", "A")
    current = _evaluation([10] * 10, frozenset())
    folds = np.array([[[12, 8], [6, 14]]] * 10)  # recall of A +0.10 on every fold; accuracy (= OBA here) −0.10
    trade = Evaluation(frozenset({1}), 0, metrics_from_confusion(folds.sum(axis=0), ("A", "B")), 0.0, 0.0, 0,
                       folds=folds)
    noisy = _evaluation([14, 7, 13, 8, 12, 9, 14, 7, 11, 10])
    held = verdict(recall, trade, current, AcceptRule())
    assert not held.accepted and held.held_by_oba
    assert held.oba_change == pytest.approx(-0.10) and held.accuracy_change == pytest.approx(-0.10)
    # none passes: the verdict reported is the trade OBA alone held back, not the first candidate's (noise)
    chosen, v = choose(recall, [noisy, trade], current, AcceptRule(ratio=0.25))
    assert chosen is None and v.held_by_oba and v.mean == pytest.approx(0.10)
    assert not verdict(recall, noisy, current, AcceptRule(ratio=0.25)).held_by_oba
    assert verdict(recall, trade, current, AcceptRule(oba_tolerance=0.1001)).accepted
    assert choose(recall, [noisy, trade], current, AcceptRule(ratio=0.25, oba_tolerance=0.2))[0] is trade


@pytest.mark.parametrize("tolerance", [-0.01, 1.5, float("nan")])
def test_an_oba_tolerance_outside_0_to_1_is_refused(tolerance):
    with pytest.raises(SearchError, match="OBA tolerance must be from 0 to 1"):
        AcceptRule(oba_tolerance=tolerance)


def test_without_folds_the_paired_rule_needs_a_strict_gain():
    goal = make_objective("cba", "A")
    one = _evaluation([10], frozenset())
    same = replace(_evaluation([10]), folds=None)
    assert not verdict(goal, same, replace(one, folds=None), AcceptRule()).accepted
    assert verdict(goal, same, replace(one, folds=None), AcceptRule(rule="no_drop")).accepted


def test_ensemble_never_ends_below_m0_on_its_fitness(setup):
    split, _, prepared = setup
    p = prepared.problem
    views = class_views(split, fit_model(prepared, frozenset()), ["ABBR"], oof=False)
    goal = make_objective("cba", "ABBR")
    outcome = run_phases(p, views, goal, [Phase("ABBR", "random", "cba", "test")],
                         budget=lambda: Budget(max_evaluations=6))
    (d,) = outcome.decisions
    assert outcome.final_validation.value("cba", "ABBR") >= outcome.m0_validation.value("cba", "ABBR") - 1e-12
    if d.accepted:
        assert d.reason.startswith("accepted (") and "lower bound" in d.reason
        assert outcome.final_check
    else:
        assert np.array_equal(outcome.base_rows, p.real())


def test_refit_rows_replace_the_real_part_and_keep_synthetic(setup):
    split, _, prepared = setup
    p = prepared.problem
    synth = p.synth_rows[next(iter(p.synth_rows))]
    chosen = np.concatenate([np.arange(p.n_train), synth])
    both = final_rows(p, chosen, "train+validation")
    assert np.array_equal(both, np.concatenate([np.arange(p.n_real), synth]))
    assert np.array_equal(final_rows(p, chosen, "train"), chosen)
    assert len(real_rows(p, "train")) == len(split.train)
    with pytest.raises(SearchError, match="unknown refit"):
        real_rows(p, "test")


def test_pca_view_is_coloured_by_out_of_fold_predictions(setup):
    split, _, prepared = setup
    m0 = fit_model(prepared, frozenset())
    oof = out_of_fold(m0, split, seed=0)
    own = m0.predict(split.train["text"].tolist())
    truth = split.train["label"].to_numpy()
    assert (oof == truth).mean() < (own == truth).mean()  # a model is right on most of its own training points
    views = class_views(split, m0, ["ABBR"], seed=0)
    assert np.array_equal(views["ABBR"].correct, oof[truth == "ABBR"] == "ABBR")


class _Recording:
    """A generator that shows ``context`` (or not) and records what it was asked."""

    name, model, prompt_version = "rec", "rec-1", "v1"

    def __init__(self, uses_context: bool):
        self.uses_context = uses_context
        self.calls = 0

    def generate(self, examples, n_per_example, *, class_name, context=(), seed=0):
        for ex in examples:
            self.calls += 1
            yield RawOutput(example=ex, texts=tuple(f"{class_name} {ex.text} {len(context)} {i}"
                                                    for i in range(n_per_example)))


@pytest.mark.parametrize("uses_context", [True, False])
def test_generation_cache_key_holds_the_class_and_the_context(workspace, uses_context):
    cache = GenerationCache(Workspace(workspace).db())
    gen = _Recording(uses_context)
    ex = [SourceExample(id=1, text="What is NASA ?", label="ABBR")]

    def run(cls="ABBR", context=("a", "b")):
        return synthesize(gen, ex, n_per_example=2, class_name=cls, cache=cache, context=list(context))

    first = run()
    assert gen.calls == 1
    run()
    assert gen.calls == 1  # same class and context: cached
    other_split = run(context=("a", "c"))  # another split's training texts as few-shot context
    assert gen.calls == (2 if uses_context else 1)
    run(cls="ENTY")
    assert gen.calls == (3 if uses_context else 2)  # the class is always part of the key
    assert first.synthetic[0].prompt_version.startswith("v1@")
    assert (first.synthetic[0].prompt_version != other_split.synthetic[0].prompt_version) == uses_context


def test_text_filter_drops_texts_that_read_as_another_class_and_near_duplicates():
    from autogets.data import load_dataset, split_dataset
    from autogets.generators.base import Synthetic
    from autogets.pipeline import TextFilter

    split = split_dataset(load_dataset("trec6"), seed=42)
    texts = ["What does NASA stand for ?", "What does the abbreviation NASA stand for ?",
             "What does NASA stand for ?!", "How many people live in Tokyo ?", "Who was the first US president ?"]
    synthetic = [Synthetic(1, i, t, "ABBR", "test", "m", "v") for i, t in enumerate(texts)]
    kept, dropped = TextFilter(margin=0.5).apply(split, synthetic, "ABBR")
    assert [s.text for s in kept] == texts[:3] and dropped["confident_other"] == 2   # NUM and HUM questions go
    kept, dropped = TextFilter(dedupe=0.9).apply(split, synthetic, "ABBR")
    assert [s.sample_index for s in kept] == [0, 1, 3, 4] and dropped["near_duplicate"] == 1  # same words as #0
    assert TextFilter().apply(split, synthetic, "ABBR") == (synthetic, {"confident_other": 0, "near_duplicate": 0,
                                                                       "inconsistent": 0, "cosine_duplicate": 0})

    spam = split_dataset(load_dataset("sms_spam"), seed=42)  # two classes: one decision value per text
    texts = ["WINNER!! Claim your free prize now, call 0800 123", "ok see you at 7 then"]
    kept, dropped = TextFilter(margin=0.5).apply(spam, [Synthetic(1, i, t, "spam", "test", "m", "v")
                                                        for i, t in enumerate(texts)], "spam")
    assert [s.text for s in kept] == texts[:1] and dropped["confident_other"] == 1


class _Contrasting(_Recording):
    """A generator that takes a contrast block (``uses_contrast``) and records the ones it was given."""

    uses_contrast = True

    def __init__(self):
        super().__init__(uses_context=True)
        self.contrasts = []

    def generate(self, examples, n_per_example, *, class_name, context=(), seed=0, contrast=None):
        self.contrasts.append(contrast)
        yield from super().generate(examples, n_per_example, class_name=class_name, context=context, seed=seed)


def test_contrast_reaches_only_generators_that_take_it_and_is_part_of_the_cache_key(workspace):
    from autogets.generators.base import Contrast

    cache = GenerationCache(Workspace(workspace).db())
    ex = [SourceExample(id=1, text="What is NASA ?", label="ABBR")]
    desc = Contrast("DESC", ("What does laser stand for ?",))
    gen = _Contrasting()

    def run(g, contrast):
        return synthesize(g, ex, n_per_example=2, class_name="ABBR", cache=cache, context=["a"], contrast=contrast)

    plain = run(gen, None)
    shown = run(gen, desc)
    assert gen.contrasts == [None, desc] and gen.calls == 2  # a contrast prompt is new work, not the plain texts
    run(gen, desc)
    assert gen.calls == 2  # the same contrast: cached
    run(gen, Contrast("DESC", ("What is nuclear proliferation ?",)))
    assert gen.calls == 3  # other contrast texts: another key
    assert plain.synthetic[0].prompt_version != shown.synthetic[0].prompt_version
    old = _Recording(uses_context=True)  # takes no contrast= argument: it is neither passed nor in the key
    assert run(old, desc).synthetic[0].prompt_version == plain.synthetic[0].prompt_version and old.calls == 0


def test_most_confused_class_is_the_one_out_of_fold_predictions_mix_with_the_target():
    import pandas as pd

    from autogets.classifiers import make_classifier
    from autogets.data import Dataset
    from autogets.pipeline import most_confused

    split = split_dataset(load_dataset("trec6"), seed=42)
    shown = most_confused(split, "ABBR")
    labels = split.train["label"].to_numpy()
    predicted = out_of_fold(make_classifier("linear"), split)
    mixed = pd.Series([p if t == "ABBR" else t for t, p in zip(labels, predicted, strict=True)
                       if (t == "ABBR") != (p == "ABBR")]).value_counts()
    assert shown.class_name == mixed.index[0] != "ABBR"
    train_of_other = set(split.train.loc[labels == shown.class_name, "text"])
    assert len(shown.texts) == 3 and set(shown.texts) <= train_of_other
    as_abbr = set(split.train.loc[(labels == shown.class_name) & (predicted == "ABBR"), "text"])
    assert set(shown.texts[:len(as_abbr)]) <= as_abbr  # the texts M0 mistakes for ABBR come first

    words = {"a": "alpha apple avocado", "b": "bravo banana blueberry"}  # two classes no model confuses
    frame = pd.DataFrame([{"id": i, "text": f"{words[c]} {i}", "label": c} for c in words for i in range(40)])
    frame["id"] = range(len(frame))
    clean = split_dataset(Dataset(name="clean", frame=frame, source="test"), seed=42)
    assert most_confused(clean, "a") is None


def test_embedded_prompt_variants_neighbour_shots_and_contrast_block():
    from autogets.data import CLASS_DESCRIPTIONS
    from autogets.generators.base import Contrast
    from autogets.generators.embedded import EmbeddedGenerator, nearest_shots

    context = ["What does NASA stand for ?", "What is the abbreviation for kilogram ?", "What does NASA mean ?",
               "What is the full form of BTU ?"]
    near = nearest_shots(["What does NASA stand for ?"], context, 2)[0]
    assert near[0] == "What does NASA mean ?" and "What does NASA stand for ?" not in near and len(near) == 2

    descriptions = CLASS_DESCRIPTIONS["trec6"]
    plain = EmbeddedGenerator(descriptions=descriptions)
    neighbours = EmbeddedGenerator(descriptions=descriptions, shots="neighbours")
    assert plain.prompt_version == plain.prompt.key(descriptions=descriptions, n_shots=None)  # cached keys kept
    assert neighbours.prompt_version != plain.prompt_version
    with pytest.raises(GenerationError, match="unknown shots 'nearest'"):
        EmbeddedGenerator(shots="nearest")

    source = SourceExample(id=1, text="What does CPU stand for ?", label="ABBR")
    shown = plain.render(source, "ABBR", context, contrast=Contrast("DESC", ("What is a laser ?",)))
    desc_at, abbr_at = shown.index(descriptions["DESC"]), shown.index(descriptions["ABBR"])
    assert desc_at < shown.index("- What is a laser ?") < abbr_at < shown.index("- What does CPU stand for ?")
    assert shown.endswith("- What does CPU stand for ?\n-")
    assert plain.render(source, "ABBR", context) == plain.render(source, "ABBR", context, contrast=None)
    assert descriptions["DESC"] not in plain.render(source, "ABBR", context)
