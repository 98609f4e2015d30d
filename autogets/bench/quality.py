"""Quality benchmark (``autogets bench quality``): the paper's TREC-6 Tables 10–11 over seeds, without leakage.

For every seed (split seed = search seed), class and generator it runs, on one feature matrix:

* each strategy (Random, SW, HSW, GA) × objective (CBA, OBA) under the same evaluation budget, the best candidate
  chosen on **validation** and scored once on **test**;
* "add all": every cleaned synthetic text of the class, no search;
* "improve": the ensemble (method §7) with the default-rule phases, the same total budget split over its phases;

and per seed and class, without synthetic data, "class-weighted": the classifier with balanced class weights, and
"m0-trainval": M0 refitted on train + validation, against M0 on train (what the extra real data alone gives).

The selection settings are those of the product (:class:`autogets.steps.RunSpec`): ``fitness`` (``"cv"``: repeated
stratified folds of train + validation; ``"validation"``), ``accept`` (``"paired"``: a change is kept only if its
gain is above noise across folds, and a search's final choice is between M0, "add all" and its best; ``"no_drop"``:
the paper's rule, a search's best taken as it is), ``refit`` (``"train+validation"``: every reported model and its
M0 are refitted on train + validation; ``"train"``), ``winner`` (a phase's winner by the goal or by its objective).

Every finished cell is stored in the workspace (table ``bench_cells``) under a key of the settings that change its
numbers, so an interrupted run resumes where it stopped and a run with more seeds reuses the earlier ones.
Test gains are reported against M0 on the same split and features: the target class's CBA for the CBA objective,
OBA for the OBA objective (the paper's Tables 11 and 10).

With an external test (:class:`ExternalTest`: labelled texts of the data set's classes that no split draws from,
e.g. banking_dev's 40 per intent), every model scored on the split's test is also scored on it (the ``ext_*``
fields of a cell): a rare class's gain measured on 40 examples instead of the handful its test split holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from autogets.data import Dataset, Split, drop_overlap, split_dataset
from autogets.ensemble import plan_phases, run_phases
from autogets.errors import DataError
from autogets.executor import Executor, using
from autogets.generators import Generator
from autogets.generators.cache import GenerationCache
from autogets.metrics import Metrics, compute_metrics
from autogets.pipeline import Prepared, TextFilter, build_problem, class_views, final_rows, fit_model, synthesize_class
from autogets.search import Budget, Evaluator, make_strategy, run_strategy
from autogets.search.objectives import make_objective, metric_value
from autogets.search.robust import OBA_TOLERANCE, AcceptRule, choose
from autogets.workspace import BENCH_EXTERNAL_COLUMNS, Workspace, now_iso

STRATEGIES = ("random", "sw", "hsw", "ga")
BASELINES = ("add-all", "class-weighted", "m0-trainval")
METHODS = (*STRATEGIES, "improve", *BASELINES)


@dataclass(frozen=True)
class QualityConfig:
    """What a quality run covers. ``classes=None``: every class. ``max_sources``: synthetic texts are generated for
    at most this many training examples per class (chosen by text hash, the same on every split)."""

    seeds: tuple[int, ...] = (42, 43, 44, 45, 46)
    classes: tuple[str, ...] | None = None
    strategies: tuple[str, ...] = STRATEGIES
    generators: tuple[str, ...] = ("embedded", "eda")
    objectives: tuple[str, ...] = ("cba", "oba")
    budget: int = 180
    n_per_example: int = 5
    max_sources: int | None = 200
    improve: bool = True
    classifier: str = "auto"             # "auto": per seed and class, as `improve --class` chooses
    fitness: str = "cv"
    folds: int = 5
    repeats: int = 2
    accept: str = "paired"
    accept_z: float = 1.0
    oba_tolerance: float = OBA_TOLERANCE
    refit: str = "train+validation"
    winner: str = "goal"
    filter_margin: float | None = None   # TextFilter.margin (issue 14 lever 6; off by default)
    dedupe: float | None = None          # TextFilter.dedupe
    shots: str = "spread"                # embedded prompt's few-shot examples (lever 6): spread | neighbours
    contrast: bool = False               # embedded prompt also shows the most-confused class (lever 6)
    view: str = "text"                   # the search's PCA map: "text" (TF-IDF) or "classifier" (its features)
    consistency: float | None = None     # TextFilter.consistency (issue 21; off until measured)
    cosine: float | None = None          # TextFilter.cosine (issue 21; off until measured)

    def rule(self) -> AcceptRule:
        return AcceptRule(rule=self.accept, z=self.accept_z, oba_tolerance=self.oba_tolerance)

    @classmethod
    def quick(cls, classes: tuple[str, ...] | None = None) -> QualityConfig:
        """One seed, a small budget, two classes, few sources, 3 folds once: minutes, for CI (keeps the harness
        from rotting)."""
        return cls(seeds=(42,), classes=classes, budget=20, max_sources=10, folds=3, repeats=1)

    def cell_key(self, dataset: Dataset, external: ExternalTest | None = None) -> str:
        """Hash of everything that changes a cell's numbers (not the lists of seeds/classes/methods it expands to);
        with an external test, its fingerprint too (cells scored with and without one, or on another, apart)."""
        settings = {"data": _fingerprint(dataset.frame), "budget": self.budget, "n_per_example": self.n_per_example,
                    "max_sources": self.max_sources, "classifier": self.classifier, "fitness": self.fitness,
                    "folds": self.folds, "repeats": self.repeats, "accept": self.accept, "accept_z": self.accept_z,
                    "refit": self.refit, "winner": self.winner, "version": 3}
        if self.filter_margin is not None or self.dedupe is not None:
            settings.update(filter_margin=self.filter_margin, dedupe=self.dedupe)
        if self.shots != "spread" or self.contrast:  # prompt variants: new cells, the default's keys unchanged
            settings.update(shots=self.shots, contrast=self.contrast)
        if self.view != "text":
            settings.update(view=self.view)
        if self.consistency is not None or self.cosine is not None:
            settings.update(consistency=self.consistency, cosine=self.cosine)
        if self.oba_tolerance != OBA_TOLERANCE:
            settings.update(oba_tolerance=self.oba_tolerance)
        if external is not None:  # the keys of runs without an external test unchanged
            settings.update(external=external.fingerprint())
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _fingerprint(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame[["text", "label"]], index=False)
                          .to_numpy().tobytes()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class ExternalTest:
    """An external test of a data set: ``frame`` (columns ``text``, ``label``) holds no text of the data set, so no
    split of it, whatever the seed, trains or chooses on these texts. Build it with :meth:`of`."""

    frame: pd.DataFrame
    source: str
    overlap_dropped: int = 0

    @classmethod
    def of(cls, frame: pd.DataFrame, dataset: Dataset, source: str) -> ExternalTest:
        """``frame`` (from :func:`autogets.data.external_test` or :func:`~autogets.data.load_external_test`) without
        the texts that also occur in ``dataset``; a DataError if none is left."""
        kept, dropped = drop_overlap(frame, dataset)
        if kept.empty:
            raise DataError(f"external test {source}: all {dropped} texts also occur in the data set; nothing is "
                            "left to test on")
        return cls(kept[["text", "label"]].reset_index(drop=True), source, dropped)

    def fingerprint(self) -> str:
        return _fingerprint(self.frame)

    def per_class(self) -> dict[str, int]:
        counts = self.frame["label"].value_counts()
        return {str(c): int(counts[c]) for c in sorted(counts.index)}

    def describe(self) -> dict:
        """What the results file records about it."""
        return {"source": self.source, "rows": len(self.frame), "per_class": self.per_class(),
                "overlap_dropped": self.overlap_dropped, "fingerprint": self.fingerprint()}


@dataclass(frozen=True)
class Cell:
    """One measured outcome. ``objective``/``generator`` are ``"-"`` where they do not apply (baselines).

    ``ext_*``: the same M0 and final model scored on the external test (NaN when the run had none).
    ``classifier``: the classifier of M0 and of the final model ("" for cells stored before it was recorded)."""

    seed: int
    cls: str
    generator: str
    objective: str
    method: str
    val_gain: float
    m0_cba: float
    cba: float
    m0_oba: float
    oba: float
    m0_accuracy: float
    accuracy: float
    n_sources: int
    n_synthetic: int
    evaluations: int
    seconds: float
    curve: tuple[float, ...] = ()
    ext_m0_cba: float = math.nan
    ext_cba: float = math.nan
    ext_m0_oba: float = math.nan
    ext_oba: float = math.nan
    ext_m0_accuracy: float = math.nan
    ext_accuracy: float = math.nan
    classifier: str = ""

    def gain(self, objective: str) -> float:
        """Test gain over M0 in the units of ``objective`` (class CBA or OBA)."""
        return self.cba - self.m0_cba if objective == "cba" else self.oba - self.m0_oba

    def ext_gain(self, objective: str) -> float:
        """The same gain on the external test (NaN without one)."""
        return self.ext_cba - self.ext_m0_cba if objective == "cba" else self.ext_oba - self.ext_m0_oba

    @property
    def pk(self) -> tuple:
        return (self.seed, self.cls, self.generator, self.objective, self.method)


Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Scores:
    """One model's metrics on the split's test and, when the run has one, on the external test."""

    test: Metrics
    external: Metrics | None = None


@dataclass
class _Scorer:
    """Scoring of heads fitted on a problem's rows: on test and the external test (the features of each computed
    once, by the problem's featuriser) or on validation."""

    prepared: Prepared
    split: Split
    refit: str = "train+validation"
    external: pd.DataFrame | None = None
    _x_test: object = field(init=False, default=None)
    _x_external: object = field(init=False, default=None)

    def metrics(self, selection: frozenset[int] = frozenset(), base_rows: np.ndarray | None = None,
                template=None) -> Scores:
        """Test (and external test) metrics of the head trained on the refit's real rows plus the synthetic rows
        among ``base_rows`` and of ``selection``, with the problem's template (or ``template``)."""
        if self._x_test is None:
            self._x_test = self.prepared.featurizer.transform(self.split.test["text"].tolist())
        if self.external is not None and self._x_external is None:
            self._x_external = self.prepared.featurizer.transform(self.external["text"].tolist())
        problem = self.prepared.problem if base_rows is None else replace(self.prepared.problem, base_rows=base_rows)
        rows = final_rows(problem, problem.rows_for(selection), self.refit)
        head = (template or problem.template).make_head().fit(problem.X[rows], problem.y[rows])
        test = self._score(head, self._x_test, self.split.test)
        external = None if self.external is None else self._score(head, self._x_external, self.external)
        return Scores(test, external)

    def validation(self) -> Metrics:
        """M0 (trained on train) on validation (what the default rules plan from)."""
        problem = self.prepared.problem
        rows = np.arange(problem.n_train)
        head = problem.template.make_head().fit(problem.take(rows), problem.y[rows])
        return self._score(head, problem.take(problem.val_rows), self.split.validation)

    def _score(self, head, features, part: pd.DataFrame) -> Metrics:
        predicted = np.asarray(self.prepared.problem.classes)[np.asarray(head.predict(features)).ravel()]
        return compute_metrics(part["label"].to_numpy(), predicted, self.split.classes)


def _cell(seed, cls, generator, objective, method, *, val_gain, m0: Scores, final: Scores, n_sources, n_synthetic,
          evaluations, seconds, curve=()) -> Cell:
    ext = {}
    if m0.external is not None and final.external is not None:
        a, b = m0.external, final.external
        ext = {"ext_m0_cba": a.value("cba", cls), "ext_cba": b.value("cba", cls), "ext_m0_oba": a.oba,
               "ext_oba": b.oba, "ext_m0_accuracy": a.accuracy, "ext_accuracy": b.accuracy}
    m0, final = m0.test, final.test
    return Cell(seed, cls, generator, objective, method, float(val_gain), m0.value("cba", cls), final.value("cba", cls),
                m0.oba, final.oba, m0.accuracy, final.accuracy, int(n_sources), int(n_synthetic), int(evaluations),
                round(float(seconds), 3), tuple(round(float(v), 5) for v in curve),
                **{k: float(v) for k, v in ext.items()})


class CellStore:
    """Finished cells of one configuration key in the workspace table ``bench_cells``."""

    def __init__(self, ws: Workspace, key: str, dataset: str):
        self.table = ws.db()["bench_cells"]
        self.db = ws.db()
        self.key, self.dataset = key, dataset

    def done(self) -> dict[tuple, Cell]:
        rows = self.db.query("SELECT * FROM bench_cells WHERE config = ? AND dataset = ?", [self.key, self.dataset])
        out = {}
        for r in rows:
            ext = {k: math.nan if r.get(k) is None else r[k] for k in BENCH_EXTERNAL_COLUMNS}  # NULL: NaN
            c = Cell(r["seed"], r["class"], r["generator"], r["objective"], r["method"], r["val_gain"], r["m0_cba"],
                     r["cba"], r["m0_oba"], r["oba"], r["m0_accuracy"], r["accuracy"], r["n_sources"],
                     r["n_synthetic"], r["evaluations"], r["seconds"], tuple(json.loads(r["curve"])), **ext,
                     classifier=r.get("classifier") or "")
            out[c.pk] = c
        return out

    def add(self, cells: Sequence[Cell]) -> None:
        rows = []
        for c in cells:
            d = asdict(c)
            d["class"] = d.pop("cls")
            d["curve"] = json.dumps(list(c.curve))
            rows.append({"config": self.key, "dataset": self.dataset, **d, "created_at": now_iso()})
        with self.db.conn:
            self.table.insert_all(rows, replace=True)


def _search_cells(seed: int, cls: str, generator: str, config: QualityConfig, prepared: Prepared, scorer: _Scorer,
                  m0_test: Scores, views, pool: Executor, todo: set[tuple]) -> list[Cell]:
    problem = prepared.problem
    cells = []
    for objective in config.objectives:
        for strategy in config.strategies:
            if (seed, cls, generator, objective, strategy) not in todo:
                continue
            start = time.perf_counter()
            goal = make_objective(objective, cls)
            evaluator = Evaluator(problem, goal, Budget(max_evaluations=config.budget), pool)
            result = run_strategy(make_strategy(strategy, seed=seed), views[cls], evaluator)
            best = result.best
            if config.accept == "paired":  # the final choice: M0, "add all" or the search's best, above noise
                everything = [e for e in result.history if e.selection == evaluator.pool]
                best = choose(goal, [best, *everything], result.baseline,
                              config.rule().for_problem(problem))[0] or result.baseline
            final = scorer.metrics(best.selection)
            n_syn = sum(len(problem.synth_rows[i]) for i in best.selection)
            cells.append(_cell(seed, cls, generator, objective, strategy, val_gain=best.gain, m0=m0_test,
                               final=final, n_sources=len(best.selection), n_synthetic=n_syn,
                               evaluations=result.evaluations, seconds=time.perf_counter() - start,
                               curve=np.maximum.accumulate([0.0, *result.gains()])[1:]))
        if config.improve and (seed, cls, generator, objective, "improve") in todo:
            cells.append(_improve_cell(seed, cls, generator, objective, config, prepared, scorer, m0_test, views,
                                       pool))
    return cells


def _improve_cell(seed, cls, generator, objective, config, prepared, scorer, m0_test, views, pool) -> Cell:
    """The ensemble with the default-rule phases (no knowledge map: no information from other seeds' test runs);
    its phases share the one budget the single strategies get."""
    problem = prepared.problem
    start = time.perf_counter()
    val = scorer.validation()
    train = scorer.split.train["label"].value_counts().to_dict()
    phases, _ = plan_phases(cls, objective, train_counts={c: int(train.get(c, 0)) for c in val.classes},
                            val_recall={c: float(val.recall[i]) for i, c in enumerate(val.classes)})
    per_phase = max(1, config.budget // len(phases))
    outcome = run_phases(problem, views, make_objective(objective, cls), phases,
                         budget=lambda: Budget(max_evaluations=per_phase), executor=pool, seed=seed,
                         rule=config.rule(), winner=config.winner)
    final = scorer.metrics(base_rows=outcome.base_rows)
    gain = (metric_value(outcome.final_validation, objective, cls)
            - metric_value(outcome.m0_validation, objective, cls))
    return _cell(seed, cls, generator, objective, "improve", val_gain=gain, m0=m0_test, final=final,
                 n_sources=sum(len(s) for s in outcome.accepted_selection.values()),
                 n_synthetic=int((outcome.base_rows >= problem.n_real).sum()),
                 evaluations=sum(d.evaluations for d in outcome.decisions), seconds=time.perf_counter() - start)


def _classifiers_for(config: QualityConfig, split: Split, classes: Sequence[str], seed: int) -> dict[str, str]:
    """The classifier of each class's M0: the configured one, or with ``auto`` the one ``improve --class CLS``
    would choose on this split (:func:`autogets.selection.choose_classifier`, by the class's CBA)."""
    from autogets.selection import resolve

    return {cls: resolve(config.classifier, split, target=cls, seed=seed)[0] for cls in classes}


def _views(config: QualityConfig, split: Split, plain: Prepared, classes: Sequence[str]):
    """The search's PCA views of every class, on TF-IDF (``view="text"``) or on the classifier's own features."""
    from autogets.pipeline import view_featurizer

    return class_views(split, fit_model(plain, frozenset()), classes, seed=42,
                       featurizer=view_featurizer(config.view, plain))


def run_quality(ws: Workspace, dataset: Dataset, config: QualityConfig, *,
                generators: dict[str, Generator], executor: str | Executor = "local",
                progress: Progress | None = None, external: ExternalTest | None = None) -> list[Cell]:
    """Measure every missing cell (resumable) and return all cells of ``config`` (finished earlier or now);
    with ``external``, every model is also scored on that external test (its own cells: see :meth:`cell_key`)."""
    from sklearn.base import clone

    store = CellStore(ws, config.cell_key(dataset, external), dataset.name)
    ext = None if external is None else external.frame
    have = store.done()
    cache = GenerationCache(ws.db())
    wanted: list[tuple] = []
    first = split_dataset(dataset, seed=config.seeds[0])
    classes = config.classes or tuple(first.classes)
    searches = (*config.strategies, *(("improve",) if config.improve else ()))
    for seed in config.seeds:
        for cls in classes:
            wanted.append((seed, cls, "-", "-", "class-weighted"))
            wanted.append((seed, cls, "-", "-", "m0-trainval"))
            for g in config.generators:
                wanted.append((seed, cls, g, "-", "add-all"))
                wanted += [(seed, cls, g, o, m) for o in config.objectives for m in searches]
    todo = {k for k in wanted if k not in have}
    total, done = len(wanted), len(wanted) - len(todo)
    if progress:
        progress("cells", done, total)

    def finish(cells: list[Cell], where: str, classifier: str) -> None:
        nonlocal done
        store.add([replace(c, classifier=classifier) for c in cells])
        done += len(cells)
        if progress:
            progress(where, done, total)

    with using(executor) as pool:
        for seed in config.seeds:
            if not any(k[0] == seed for k in todo):
                continue
            split = split_dataset(dataset, seed=seed)
            chosen = _classifiers_for(config, split, classes, seed)  # auto: per class, as `improve --class` picks
            plains = {name: build_problem(split, [], classes[0], classifier=name) for name in set(chosen.values())}
            baselines: dict[str, tuple] = {}  # per classifier: no synthetic data, the same models for every class
            views_of: dict[str, dict] = {}
            for cls in classes:
                name, plain = chosen[cls], plains[chosen[cls]]
                if name not in views_of:
                    views_of[name] = _views(config, split, plain, classes)
                views = views_of[name]
                if name not in baselines and {(seed, cls, "-", "-", "class-weighted"),
                                              (seed, cls, "-", "-", "m0-trainval")} & todo:
                    scorer = _Scorer(plain, split, refit=config.refit, external=ext)
                    unweighted = scorer.metrics()
                    params = plain.template.get_params()
                    weighted = (scorer.metrics(template=clone(plain.template).set_params(class_weight="balanced"))
                                if "class_weight" in params else unweighted)  # embedding heads: balanced already
                    baselines[name] = (unweighted, weighted,
                                       _Scorer(plain, split, refit="train", external=ext).metrics(),
                                       _Scorer(plain, split, refit="train+validation", external=ext).metrics())
                if (seed, cls, "-", "-", "class-weighted") in todo:
                    unweighted, weighted = baselines[name][:2]
                    finish([_cell(seed, cls, "-", "-", "class-weighted", val_gain=math.nan, m0=unweighted,
                                  final=weighted, n_sources=0, n_synthetic=0, evaluations=0, seconds=0)],
                           f"seed {seed} {cls}", name)
                if (seed, cls, "-", "-", "m0-trainval") in todo:
                    m0_train, m0_all = baselines[name][2:]
                    finish([_cell(seed, cls, "-", "-", "m0-trainval", val_gain=math.nan, m0=m0_train,
                                  final=m0_all, n_sources=0, n_synthetic=0, evaluations=0, seconds=0)],
                           f"seed {seed} {cls}", name)
                for g in config.generators:
                    mine = {k for k in todo if k[:3] == (seed, cls, g)}
                    if not mine:
                        continue
                    generation = synthesize_class(cache, generators[g], split, cls, dataset=dataset.identity,
                                                  n_per_example=config.n_per_example, seed=seed,
                                                  max_sources=config.max_sources, contrast=config.contrast,
                                                  classifier=name)
                    synthetic = list(generation.synthetic)
                    text_filter = TextFilter(margin=config.filter_margin, dedupe=config.dedupe,
                                             consistency=config.consistency, cosine=config.cosine)
                    if text_filter.active:
                        synthetic, _ = text_filter.apply(split, synthetic, cls, classifier=name)
                    prepared = build_problem(split, synthetic, cls, classifier=name,
                                             fitness=config.fitness, folds=config.folds, repeats=config.repeats,
                                             seed=seed)
                    scorer = _Scorer(prepared, split, refit=config.refit, external=ext)
                    m0_test = scorer.metrics()
                    cells: list[Cell] = []
                    if (seed, cls, g, "-", "add-all") in mine:
                        pool_ids = frozenset(prepared.problem.synth_rows)
                        cells.append(_cell(seed, cls, g, "-", "add-all", val_gain=math.nan, m0=m0_test,
                                           final=scorer.metrics(pool_ids), n_sources=len(pool_ids),
                                           n_synthetic=len(synthetic), evaluations=0, seconds=0))
                    cells += _search_cells(seed, cls, g, config, prepared, scorer, m0_test, views, pool, mine)
                    finish(cells, f"seed {seed} {cls} {g}", name)
    have = store.done()
    return [have[k] for k in wanted if k in have]
