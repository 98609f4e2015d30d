"""`autogets bench`: benchmarks; results in benchmarks/results/."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from autogets.cli.common import (
    ClassifierOpt,
    ClassOpt,
    DataOpt,
    DatasetOpt,
    ExecutorOpt,
    GeneratorOpt,
    IdColOpt,
    JsonOpt,
    LabelColOpt,
    MinClassOpt,
    NOpt,
    ObaToleranceOpt,
    OutDirOpt,
    RayAddressOpt,
    TextColOpt,
    WorkspaceOpt,
    _classifier,
    _generator,
    _load,
    _workspace,
    err,
    out,
    progress_bars,
)
from autogets.search.robust import OBA_TOLERANCE

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks; results are written to benchmarks/results/.")


ExecutorsOpt = Annotated[list[str] | None, typer.Option("--executor", help="Repeatable: local (default) | serial | "
                                                                           "ray, each measured.")]
FitnessesOpt = Annotated[list[str] | None, typer.Option("--fitness", help="Repeatable: cv (the default's, 10 fits "
                                                                          "per candidate) | validation (1 fit).")]


def _check_bench_search(classifiers: list[str], executors: list[str], fitnesses: list[str],
                        ray_address: str | None = None) -> None:
    """Unknown classifiers, executors and fitnesses fail here, before any work."""
    from autogets.classifiers import make_classifier
    from autogets.errors import ConfigError
    from autogets.executor import make_executor
    from autogets.pipeline import FITNESSES

    for name in classifiers:
        make_classifier(name)  # also bad module:factory specs
    if ray_address and "ray" not in executors:
        raise ConfigError("--ray-address needs --executor ray")
    for name in executors:  # unknown names, and ray when it is not installed (nothing is started)
        make_executor(name, address=ray_address if name == "ray" else None).close()
    for name in fitnesses:
        if name not in FITNESSES:
            raise ConfigError(f"unknown fitness {name!r}; choose one of {', '.join(FITNESSES)}")


@bench_app.command("generate")
def bench_generate(target: ClassOpt = "ABBR", n: NOpt = 5,
                   limit: Annotated[int | None, typer.Option(help="Only the first N examples.")] = None,
                   workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Embedded generator speed on trec6: load time, texts/minute, peak RSS.

    Example: autogets bench generate --class ABBR
    """
    from autogets.bench import write_result
    from autogets.bench.speed import bench_generate as run
    from autogets.generators.embedded import cache_dir_for

    ws = _workspace(workspace)
    with err.status("Benchmarking the embedded generator …"):
        result = run(target=target, n_per_example=n, cache_dir=cache_dir_for(ws.root), limit=limit)
    path = write_result("generate", result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")


@bench_app.command("search")
def bench_search(target: ClassOpt = "ABBR",
                 evaluations: Annotated[int, typer.Option(help="Random candidates to time.")] = 300,
                 classifier: Annotated[list[str] | None, typer.Option("--classifier", help="Repeatable; default "
                                                                      "linear; module:factory for your own.")] = None,
                 executor: ExecutorsOpt = None, fitness: FitnessesOpt = None, ray_address: RayAddressOpt = None,
                 generator: GeneratorOpt = "eda", workspace: WorkspaceOpt = None,
                 out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Candidate evaluations per second, one full SW pair (169 windows) and an N-worker estimate on trec6, per
    classifier × executor × fitness.

    Example: autogets bench search --executor local --executor ray --fitness cv --fitness validation
    """
    from autogets.bench import write_result
    from autogets.bench.speed import bench_search as run

    classifiers, executors, fitnesses = classifier or ["linear"], executor or ["local"], fitness or ["cv"]
    _check_bench_search(classifiers, executors, fitnesses, ray_address)
    ws = _workspace(workspace)
    with err.status("Benchmarking candidate evaluation …"):
        result = run(target=target, classifiers=tuple(classifiers), executors=tuple(executors),
                     fitnesses=tuple(fitnesses), ray_address=ray_address, evaluations=evaluations,
                     workspace_root=ws.root, generator=generator)
    path = write_result("search" + ("-" + "-".join(executors) if executors != ["local"] else ""), result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")


@bench_app.command("quality")
def bench_quality(
        dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
        label_col: LabelColOpt = "label", id_col: IdColOpt = None, min_class_size: MinClassOpt = None,
        seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds (42, 43, …).")] = 5,
        budget: Annotated[int, typer.Option(min=1, help="Candidate evaluations per search (paper: ~180 = 1 "
                                                        "GPU-hour).")] = 180,
        target: Annotated[list[str] | None, typer.Option("--class", "-c", help="Repeatable; default all.")] = None,
        strategy: Annotated[list[str] | None, typer.Option("--strategy", help="Repeatable; default random, sw, "
                                                                             "hsw, ga.")] = None,
        generator: Annotated[list[str] | None, typer.Option("--generator", "-g", help="Repeatable; default "
                                                                                     "embedded and eda.")] = None,
        objective: Annotated[list[str] | None, typer.Option("--objective", help="Repeatable; default cba, "
                                                                               "oba.")] = None,
        n: NOpt = 5,
        max_sources: Annotated[int, typer.Option(min=1, help="Source examples per class that get synthetic "
                                                             "texts (chosen by text hash).")] = 200,
        improve: Annotated[bool, typer.Option(help="Also run the ensemble per class.")] = True,
        quick: Annotated[bool, typer.Option("--quick", help="One seed, budget 20, 10 sources and (without --class) "
                                                            "the two smallest classes: checks the harness in "
                                                            "minutes.")] = False,
        fitness: Annotated[str, typer.Option(help="cv (repeated folds of train + validation) | validation")] = "cv",
        folds: Annotated[int | None, typer.Option(min=2, help="Folds per repeat (fitness cv; default 5, "
                                                              "--quick 3).")] = None,
        repeats: Annotated[int | None, typer.Option(min=1, help="Repeats of the folds (fitness cv; default 2, "
                                                                "--quick 1).")] = None,
        accept: Annotated[str, typer.Option(help="paired (gain above noise across folds) | no_drop")] = "paired",
        oba_tolerance: ObaToleranceOpt = OBA_TOLERANCE,
        refit: Annotated[str, typer.Option(help="train+validation | train: real rows of reported models and "
                                                "their M0")] = "train+validation",
        winner: Annotated[str, typer.Option(help="goal | objective: what picks a phase's winner")] = "goal",
        filter_margin: Annotated[float | None, typer.Option(help="Drop synthetic texts M0 assigns to another class "
                                                                 "by more than this decision margin (lever 6).")
                                 ] = None,
        dedupe: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Drop synthetic near-duplicates: word "
                                                                            "Jaccard ≥ this (lever 6).")] = None,
        shots: Annotated[str, typer.Option(help="Embedded prompt's few-shot examples: spread (over the class) | "
                                                "neighbours (the source's nearest; lever 6).")] = "spread",
        contrast: Annotated[bool, typer.Option("--contrast", help="Embedded prompt also shows texts of the class "
                                                                  "M0 confuses the target with most (lever 6).")
                            ] = False,
        external_test: Annotated[Path | None, typer.Option(
            "--external-test", help="Labelled texts of the data set's classes that no split draws from (CSV, "
                                    "JSONL or Parquet; columns --text-col, --label-col): gains are also reported on "
                                    "it. Default: the bundled one of the data set (banking_dev's).")] = None,
        no_external_test: Annotated[bool, typer.Option("--no-external-test", help="Do not score on an external "
                                                                                  "test, not even the bundled "
                                                                                  "one.")] = False,
        consistency: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Drop a synthetic text when fewer "
                                                      "than this share of its 5 nearest real texts (MiniLM cosine) "
                                                      "are of its class (issue 21).")] = None,
        cosine: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Drop synthetic near-duplicates: "
                                                     "MiniLM cosine ≥ this (issue 21).")] = None,
        classifier: ClassifierOpt = None,
        view: Annotated[str, typer.Option(help="The search's PCA map: text (TF-IDF) | classifier (its own "
                                               "features, e.g. sentence embeddings).")] = "text",
        tag: Annotated[str, typer.Option(help="Suffix of the result file names (to keep variants apart).")] = "",
        executor: ExecutorOpt = "local", ray_address: RayAddressOpt = None,
        workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results"),
        json_out: JsonOpt = False) -> None:
    """The paper's Tables 10–11 over seeds: class × strategy × generator × objective, baselines, paired tests.

    Resumable: finished cells are kept in the workspace. Writes <date>-quality-<data>.json/.md and plots. With an
    external test (banking_dev brings one), every model is also scored on it and its gains reported beside the
    split's test.

    Example: autogets bench quality --dataset trec6 --quick
    """
    import time

    from autogets.bench.quality import STRATEGIES, QualityConfig, run_quality
    from autogets.bench.tables import write_quality
    from autogets.data import split_dataset
    from autogets.executor import make_executor
    from autogets.pipeline import check_class
    from autogets.search import make_strategy
    from autogets.search.objectives import make_objective

    ds = _load(dataset or ("trec6" if data is None else None), data, text_col, label_col, id_col, min_class_size)
    external = _external_test(ds, bundled=data is None, path=external_test, off=no_external_test,
                              text_col=text_col, label_col=label_col)
    split = split_dataset(ds, seed=42)
    for c in target or []:
        check_class(split, c)
    for s in strategy or []:
        make_strategy(s)  # unknown names fail here, before any work
    for o in objective or []:
        make_objective(o, split.classes[0])
    classes = tuple(target) if target else None
    if quick:
        smallest = tuple(split.train["label"].value_counts().sort_values(kind="stable").index[:2])
        config = QualityConfig.quick(classes=classes or smallest)
    else:
        config = QualityConfig(seeds=tuple(range(42, 42 + seeds)), classes=classes, budget=budget,
                               n_per_example=n, max_sources=max_sources, improve=improve)
    from autogets.pipeline import FITNESSES, REFITS
    from autogets.search.robust import AcceptRule

    AcceptRule(rule=accept, oba_tolerance=oba_tolerance)  # unknown names fail here
    if fitness not in FITNESSES or refit not in REFITS or winner not in ("goal", "objective"):
        from autogets.errors import ConfigError

        raise ConfigError(f"unknown setting: fitness {fitness!r} ({', '.join(FITNESSES)}), refit {refit!r} "
                          f"({', '.join(REFITS)}), winner {winner!r} (goal, objective)")
    config = replace(config, fitness=fitness, folds=folds or config.folds, repeats=repeats or config.repeats,
                     accept=accept, oba_tolerance=oba_tolerance, refit=refit, winner=winner,
                     filter_margin=filter_margin, dedupe=dedupe,
                     shots=shots, contrast=contrast, classifier=_classifier(classifier), view=view,
                     consistency=consistency, cosine=cosine)
    from autogets.pipeline import VIEWS

    if view not in VIEWS:
        from autogets.errors import ConfigError

        raise ConfigError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    config = replace(config, improve=improve, strategies=tuple(strategy or STRATEGIES),
                     generators=tuple(generator or config.generators),
                     objectives=tuple(objective or config.objectives))
    ws = _workspace(workspace)
    prompt = {"shots": shots} if shots != "spread" else {}
    gens = {g: _generator(g, ws, dataset=ds.name, **(prompt if g == "embedded" else {}))
            for g in config.generators}  # unknown names (and shots) fail here
    started = time.perf_counter()
    with progress_bars(not json_out) as progress, make_executor(executor, address=ray_address) as pool:
        report = (lambda phase, done, total: progress("Quality cells", done, total, phase)) if progress else None
        cells = run_quality(ws, ds, config, generators=gens, executor=pool, progress=report, external=external)
    elapsed = time.perf_counter() - started
    name = f"quality-{ds.name}" + ("-quick" if quick else "") + (f"-{tag}" if tag else "")
    described = None if external is None else external.describe()
    path, md, text = write_quality(cells, config, dataset=ds.name, name=name, out_dir=out_dir, elapsed=elapsed,
                                   external=described)
    if json_out:
        out.print_json(json.dumps({"results": str(path), "markdown": str(md), "cells": len(cells),
                                   "wall_seconds": round(elapsed, 1),
                                   "external_test": None if described is None else
                                   {k: described[k] for k in ("source", "rows", "overlap_dropped")}}))
        return
    out.print(text)
    out.print(f"Written to {path} and {md}")


def _external_test(ds, *, bundled: bool, path: Path | None, off: bool, text_col: str, label_col: str):
    """The external test of ``bench quality``: ``path``, else the bundled data set's own (if any), else none;
    texts that also occur in the data set dropped (a note on stderr says how many)."""
    from autogets.bench.quality import ExternalTest
    from autogets.data import EXTERNAL_TESTS, external_test, load_external_test
    from autogets.errors import ConfigError

    if off:
        if path is not None:
            raise ConfigError("--external-test and --no-external-test contradict each other; give one")
        return None
    if path is not None:
        frame, source = load_external_test(path, ds.classes, text_col=text_col, label_col=label_col), str(path)
    else:
        frame = external_test(ds.name) if bundled else None
        if frame is None:
            return None
        source = f"{EXTERNAL_TESTS[ds.name]} (bundled)"
    external = ExternalTest.of(frame, ds, source)
    if external.overlap_dropped:
        err.print(f"external test: {external.overlap_dropped} texts that also occur in the data set dropped; "
                  f"{len(external.frame)} left", markup=False, highlight=False)
    return external


@bench_app.command("classifiers")
def bench_classifiers(dataset: DatasetOpt = None, data: DataOpt = None, text_col: TextColOpt = "text",
                      label_col: LabelColOpt = "label", id_col: IdColOpt = None,
                      min_class_size: MinClassOpt = None,
                      seeds: Annotated[int, typer.Option(min=1, max=20, help="Split seeds 42, 43, …")] = 5,
                      target: Annotated[list[str] | None, typer.Option(
                          "--class", "-c", help="Repeatable: classes whose mean CBA gets its own column (e.g. the "
                                                "rare ones).")] = None,
                      classifier: Annotated[list[str] | None, typer.Option(
                          "--classifier", help="Repeatable; default linear, minilm, minilm-tfidf, "
                                               "minilm-logreg.")] = None,
                      external_test: Annotated[Path | None, typer.Option(
                          "--external-test", help="As for bench quality (default: the bundled one).")] = None,
                      no_external_test: Annotated[bool, typer.Option("--no-external-test")] = False,
                      tag: Annotated[str, typer.Option(help="Suffix of the result file names.")] = "",
                      workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results"),
                      json_out: JsonOpt = False) -> None:
    """M0 for each built-in fast classifier and for auto (what --classifier auto picks per split), on test and the
    external test, over seeds.

    Example: autogets bench classifiers --dataset banking_dev --class top_up_failed --class card_delivery_estimate
    """
    import shlex
    import sys

    from autogets.bench.classifiers import CANDIDATES, run_classifiers, write_classifiers
    from autogets.classifiers import make_classifier
    from autogets.data import split_dataset
    from autogets.pipeline import check_class

    names = list(classifier or CANDIDATES)
    for name in names:
        make_classifier(name)  # unknown names fail here, before any work
    ds = _load(dataset or ("trec6" if data is None else None), data, text_col, label_col, id_col, min_class_size)
    split = split_dataset(ds, seed=42)
    for c in target or []:
        check_class(split, c)
    external = _external_test(ds, bundled=data is None, path=external_test, off=no_external_test,
                              text_col=text_col, label_col=label_col)
    _workspace(workspace)  # the embedding cache
    with err.status("Fitting M0 per classifier …", spinner="dots") if not json_out else contextlib.nullcontext():
        result = run_classifiers(ds, seeds=tuple(range(42, 42 + seeds)), classifiers=tuple(names),
                                 external=None if external is None else external.frame, classes=tuple(target or ()))
    command = "autogets " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    json_path, md_path = write_classifiers(result, out_dir, command=command, tag=tag)
    if json_out:
        out.print_json(json.dumps({**result, "files": [str(json_path), str(md_path)]}))
        return
    out.print(md_path.read_text(), markup=False, highlight=False)
    out.print(f"Written to {json_path} and {md_path}")


@bench_app.command("speed")
def bench_speed(classifier: Annotated[list[str] | None, typer.Option("--classifier", help="Repeatable; default "
                                                                                        "minilm-tfidf, minilm and "
                                                                                        "linear; "
                                                                                        "module:factory for your own "
                                                                                        "(fast or slow path).")
                                      ] = None,
                executor: ExecutorsOpt = None, fitness: FitnessesOpt = None, ray_address: RayAddressOpt = None,
                evaluations: Annotated[int, typer.Option(min=10, help="Random candidates to time.")] = 300,
                improve: Annotated[bool, typer.Option(help="Also time a full first `improve` in a child (peak "
                                                           "RSS).")] = True,
                generate: Annotated[bool, typer.Option(help="Also time embedded generation.")] = True,
                tag: Annotated[str, typer.Option(help="Suffix of the result file name.")] = "",
                workspace: WorkspaceOpt = None, out_dir: OutDirOpt = Path("benchmarks/results")) -> None:
    """Evaluations/second per classifier × executor × fitness with an N-worker estimate, SW over one PCA pair,
    generation texts/minute, peak RSS of `improve`.

    Example: autogets bench speed --executor local --executor ray
    """
    from autogets.bench import write_result
    from autogets.bench.speed import bench_speed as run

    classifiers = classifier or ["minilm-tfidf", "minilm", "linear"]  # what auto picks on trec6 first
    executors, fitnesses = executor or ["local"], fitness or ["cv", "validation"]
    _check_bench_search(classifiers, executors, fitnesses, ray_address)
    ws = _workspace(workspace)
    with err.status("Benchmarking speed and memory (a few minutes) …"):
        result = run(workspace_root=ws.root, classifiers=tuple(classifiers), executors=tuple(executors),
                     fitnesses=tuple(fitnesses), ray_address=ray_address, evaluations=evaluations,
                     improve=improve, generate=generate)
    path = write_result("speed" + (f"-{tag}" if tag else ""), result, out_dir)
    out.print_json(json.dumps(result))
    out.print(f"Written to {path}")
