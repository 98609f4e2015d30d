"""Speed benchmarks: embedded generation, candidate evaluation, SW over one PCA pair, memory of ``improve``."""

from __future__ import annotations

import time
from pathlib import Path

from autogets.bench import peak_rss_mib
from autogets.data import load_dataset, split_dataset


def bench_generate(*, dataset: str = "trec6", target: str = "ABBR", n_per_example: int = 5, cache_dir: Path,
                   limit: int | None = None, seed: int = 42) -> dict:
    """Embedded generator: load time (conversion on a first run, converted copy after), texts/minute, peak RSS.

    Generates fresh (no generation cache) for the class's training examples.
    """
    from autogets.generators.base import SourceExample
    from autogets.generators.embedded import EmbeddedGenerator

    split = split_dataset(load_dataset(dataset), seed=seed)
    rows = split.train[split.train["label"] == target]
    examples = [SourceExample(int(r.id), r.text, target) for r in rows.itertuples()][:limit]
    gen = EmbeddedGenerator(cache_dir=cache_dir)
    gen.load()
    first = {"source": gen.load_source, "seconds": round(gen.load_seconds, 2)}
    again = EmbeddedGenerator(cache_dir=cache_dir)
    again.load()
    start = time.perf_counter()
    outs = list(gen.generate(examples, n_per_example, class_name=target, context=list(rows["text"]), seed=seed))
    seconds = time.perf_counter() - start
    texts = sum(len(o.texts) for o in outs)
    nonempty = sum(1 for o in outs for t in o.texts if t.strip())
    return {"dataset": dataset, "class": target, "examples": len(examples), "n_per_example": n_per_example,
            "texts": texts, "nonempty_texts": nonempty, "generation_seconds": round(seconds, 2),
            "texts_per_minute": round(60 * texts / seconds, 1), "first_load": first,
            "reload": {"source": again.load_source, "seconds": round(again.load_seconds, 2)},
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "targets": {"texts_per_minute": 60, "reload_seconds": 5, "peak_rss_mib": 2048}}


def bench_search(*, dataset: str = "trec6", target: str = "ABBR", classifiers: tuple[str, ...] = ("linear",),
                 evaluations: int = 300, workspace_root: Path, generator: str = "eda", seed: int = 42) -> dict:
    """Candidate evaluations per second (process pool on all cores) and one full SW pair (169 windows), per
    classifier: a built-in name or ``module:factory`` (reported with its path: fast head refit or slow full refit).

    The pool's start-up (spawning workers, loading the feature matrix) is paid once per job, so it is measured
    apart: ``evaluations_per_second`` is the steady rate of a started pool over Random candidates, and
    ``startup_seconds`` the one-off cost of the first batch.
    """
    import scipy.sparse as sp

    from autogets.classifiers import is_full_refit
    from autogets.executor import make_executor
    from autogets.generators import make_generator
    from autogets.generators.cache import GenerationCache
    from autogets.pipeline import build_problem, class_views, fit_model, synthesize_class
    from autogets.search import Budget, Evaluator, make_strategy, run_strategy
    from autogets.search.objectives import make_objective
    from autogets.workspace import Workspace

    split = split_dataset(load_dataset(dataset), seed=seed)
    ws = Workspace(workspace_root)
    gen = make_generator(generator)
    synthetic = synthesize_class(GenerationCache(ws.db()), gen, split, target, n_per_example=5).synthetic
    results = {}
    for name in classifiers:
        prepared = build_problem(split, synthetic, target, classifier=name)
        m0 = fit_model(prepared, frozenset())
        view = class_views(split, m0, [target])[target]
        objective = make_objective("cba", target)
        with make_executor("local") as pool:
            start = time.perf_counter()
            warm = Evaluator(prepared.problem, objective, Budget(max_evaluations=pool.workers), pool)
            run_strategy(make_strategy("random", seed=seed + 1), view, warm, include_all=False)
            startup = time.perf_counter() - start
            evaluator = Evaluator(prepared.problem, objective, Budget(max_evaluations=evaluations), pool)
            start = time.perf_counter()
            random_result = run_strategy(make_strategy("random", seed=seed), view, evaluator, include_all=False)
            rate_seconds = time.perf_counter() - start
            evaluator = Evaluator(prepared.problem, objective, Budget(max_evaluations=10_000), pool)
            start = time.perf_counter()
            sw = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator, include_all=False)
            sw_seconds = time.perf_counter() - start
            workers = pool.workers
        rate = random_result.evaluations / rate_seconds
        X = prepared.problem.X
        results[name] = {
            "evaluations": random_result.evaluations, "wall_seconds": round(rate_seconds, 2),
            "evaluations_per_second": round(rate, 2), "startup_seconds": round(startup, 2),
            "mean_fit_seconds": round(random_result.fit_seconds / max(1, random_result.evaluations), 4),
            "features": int(X.shape[1]) if sp.issparse(X) else None,
            "path": "slow: full refit on texts" if is_full_refit(prepared.template) else "fast: head refit",
            "sw_one_pair": {"windows_evaluated": sw.evaluations, "wall_seconds": round(sw_seconds, 2)},
            "workers": workers, "vs_paper": round(rate * 3600 / 180, 1),
        }
    return {"dataset": dataset, "class": target, "generator": generator, "results": results,
            "paper_evaluations_per_hour": 180, "targets": {"evaluations_per_second": 25, "sw_one_pair_seconds": 10}}


def improve_peak_rss(workspace_root: Path, *, dataset: str = "trec6", target: str = "ABBR") -> dict:
    """Run ``autogets improve`` (embedded generator) in a child process; its peak RSS and wall time.

    The peak is the largest of the child and its own (waited-for) worker processes, as the kernel reports it.
    """
    import subprocess
    import sys

    before = peak_rss_mib(children=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "autogets", "improve", "--dataset", dataset, "--class", target,
                           "--workspace", str(workspace_root), "--json"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"improve failed: {done.stderr.strip().splitlines()[-1:]}")
    peak = peak_rss_mib(children=True)
    return {"command": f"autogets improve --dataset {dataset} --class {target}", "wall_seconds": round(seconds, 1),
            "peak_rss_mib": round(peak, 1), "measured_first": peak > before}


def bench_speed(*, workspace_root: Path, classifiers: tuple[str, ...] = ("linear",), evaluations: int = 300,
                generate_limit: int = 32) -> dict:
    """Everything about speed and memory in one file: peak RSS of a full ``improve`` (measured first, in a fresh
    child), candidate evaluations per second per classifier with SW over one pair, embedded texts per minute."""
    rss = improve_peak_rss(workspace_root)
    search = bench_search(classifiers=classifiers, evaluations=evaluations, workspace_root=workspace_root)
    generate = bench_generate(cache_dir=workspace_root / "models" / "embedded", limit=generate_limit)
    default = search["results"].get("linear", next(iter(search["results"].values())))
    return {"improve": rss, "search": search, "generate": generate,
            "summary": {"evaluations_per_second": default["evaluations_per_second"],
                        "vs_paper_180_per_hour": default["vs_paper"],
                        "sw_one_pair_seconds": default["sw_one_pair"]["wall_seconds"],
                        "texts_per_minute": generate["texts_per_minute"],
                        "improve_peak_rss_mib": rss["peak_rss_mib"]},
            "targets": {"evaluations_per_second": 25, "sw_one_pair_seconds": 10, "improve_peak_rss_mib": 3072,
                        "texts_per_minute": 60}}
