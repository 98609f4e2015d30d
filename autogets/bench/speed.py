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


class _Timed:
    """An executor that counts the seconds spent in ``map`` (the fits, with their transport); the rest of a
    search's wall time is the driver's own (strategy, cache, scoring)."""

    def __init__(self, inner):
        self.inner, self.map_seconds = inner, 0.0

    @property
    def workers(self) -> int:
        return self.inner.workers

    def start(self, state) -> None:
        self.inner.start(state)

    def map(self, fn, items):
        t = time.perf_counter()
        try:
            return self.inner.map(fn, items)
        finally:
            self.map_seconds += time.perf_counter() - t

    def close(self) -> None:
        self.inner.close()


ESTIMATE_WORKERS = (1, 2, 4, 8, 16, 32, 64, 128)


def throughput_estimate(*, evaluations: int, wall_seconds: float, map_seconds: float, mean_fit_seconds: float,
                        workers: int, at: tuple[int, ...] = ESTIMATE_WORKERS) -> dict:
    """Evaluations/s on ``N`` workers, from one measured run on ``workers`` (Amdahl's law over a batch search).

    Per evaluation the driver spends ``d`` = (wall − time inside ``map``) / evaluations on its own; inside ``map``
    ``workers`` run fits of ``f`` seconds plus ``o`` seconds of transport and scheduling each, so
    ``o`` = workers · map / evaluations − ``f``. On ``N`` workers: rate(N) = 1 / (d + (f + o) / N). Assumes one core
    per worker, the same fit cost, an overhead that does not grow with N, and batches of at least N candidates
    (SW and HSW submit a PCA pair's windows at once, GA a generation); the driver's ``d`` bounds it at 1 / d."""
    d = max(0.0, (wall_seconds - map_seconds) / evaluations)
    o = max(0.0, workers * map_seconds / evaluations - mean_fit_seconds)
    per = {str(n): round(1.0 / (d + (mean_fit_seconds + o) / n), 1) for n in at}
    return {"driver_seconds_per_evaluation": round(d, 5), "overhead_seconds_per_evaluation": round(o, 5),
            "fit_seconds_per_evaluation": round(mean_fit_seconds, 5), "measured_on_workers": workers,
            "evaluations_per_second_on_n_workers": per,
            "ceiling_evaluations_per_second": round(1.0 / d, 1) if d > 0 else None,
            "model": "rate(N) = 1 / (d + (f + o) / N)"}


def bench_search(*, dataset: str = "trec6", target: str = "ABBR", classifiers: tuple[str, ...] = ("linear",),
                 executors: tuple[str, ...] = ("local",), fitnesses: tuple[str, ...] = ("cv",),
                 ray_address: str | None = None, evaluations: int = 300, workspace_root: Path,
                 generator: str = "eda", seed: int = 42) -> dict:
    """Candidate evaluations per second and one full SW pair (169 windows), per classifier × executor × fitness.

    ``classifiers``: built-in names or ``module:factory`` (reported with their path: fast head refit or slow full
    refit); ``executors``: ``local`` (process pool on all cores), ``serial``, ``ray`` (a new local Ray, or
    ``ray_address``); ``fitnesses``: ``cv`` (the product default: 5 folds × 2 over train + validation, 10 fits per
    candidate) and/or ``validation`` (one fit per candidate).

    Start-up (spawning workers or Ray, the first state transfer) is paid once per job, so it is measured apart:
    ``evaluations_per_second`` is the steady rate over Random candidates once started, ``startup_seconds`` the
    one-off cost of the first batch. Each row has a :func:`throughput_estimate` for N workers.
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

    ds = load_dataset(dataset)
    split = split_dataset(ds, seed=seed)
    ws = Workspace(workspace_root)
    gen = make_generator(generator)
    synthetic = synthesize_class(GenerationCache(ws.db()), gen, split, target, dataset=ds.identity,
                                 n_per_example=5).synthetic
    objective = make_objective("cba", target)
    rows = []
    for name in classifiers:
        for fitness in fitnesses:
            prepared = build_problem(split, synthetic, target, classifier=name, fitness=fitness, seed=seed)
            m0 = fit_model(prepared, frozenset())
            view = class_views(split, m0, [target])[target]
            for executor in executors:
                with make_executor(executor, address=ray_address if executor == "ray" else None) as made:
                    pool = _Timed(made)
                    start = time.perf_counter()
                    warm = Evaluator(prepared.problem, objective, Budget(max_evaluations=pool.workers), pool)
                    run_strategy(make_strategy("random", seed=seed + 1), view, warm, include_all=False)
                    startup = time.perf_counter() - start
                    evaluator = Evaluator(prepared.problem, objective, Budget(max_evaluations=evaluations), pool)
                    pool.map_seconds, start = 0.0, time.perf_counter()
                    random_result = run_strategy(make_strategy("random", seed=seed), view, evaluator,
                                                 include_all=False)
                    rate_seconds = time.perf_counter() - start
                    map_seconds = pool.map_seconds
                    evaluator = Evaluator(prepared.problem, objective, Budget(max_evaluations=10_000), pool)
                    start = time.perf_counter()
                    sw = run_strategy(make_strategy("sw", max_pairs=1), view, evaluator, include_all=False)
                    sw_seconds = time.perf_counter() - start
                    workers = pool.workers
                n = random_result.evaluations
                rate, fit = n / rate_seconds, random_result.fit_seconds / max(1, n)
                X = prepared.problem.X
                rows.append({
                    "classifier": name, "executor": executor, "fitness": fitness,
                    "fits_per_candidate": len(prepared.problem.held_out) if fitness == "cv" else 1,
                    "evaluations": n, "wall_seconds": round(rate_seconds, 2),
                    "evaluations_per_second": round(rate, 2), "startup_seconds": round(startup, 2),
                    "mean_fit_seconds": round(fit, 4),
                    "features": int(X.shape[1]) if sp.issparse(X) else None,
                    "path": "slow: full refit on texts" if is_full_refit(prepared.template) else "fast: head refit",
                    "sw_one_pair": {"windows_evaluated": sw.evaluations, "wall_seconds": round(sw_seconds, 2)},
                    "workers": workers, "vs_paper": round(rate * 3600 / 180, 1),
                    "estimate": throughput_estimate(evaluations=n, wall_seconds=rate_seconds,
                                                    map_seconds=map_seconds, mean_fit_seconds=fit,
                                                    workers=workers),
                })
    return {"dataset": dataset, "class": target, "generator": generator, "rows": rows,
            "paper_evaluations_per_hour": 180, "targets": {"evaluations_per_second": 25, "sw_one_pair_seconds": 10,
                                                           "cv_200_candidates_seconds": 60}}


def find_row(search: dict, **match: str) -> dict | None:
    """The first row of a :func:`bench_search` result whose fields equal ``match``."""
    return next((r for r in search["rows"] if all(r.get(k) == v for k, v in match.items())), None)


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


def bench_embed(*, texts: int = 1000, dataset: str = "trec6") -> dict:
    """Sentence embeddings per second with the packaged MiniLM on all cores, on ``texts`` texts of ``dataset`` that
    no cache has seen (the process memo and the workspace store are bypassed), after a warm-up that loads it."""
    from autogets.embeddings import get_embedder

    encoder = get_embedder("minilm")
    sample = load_dataset(dataset).frame["text"].tolist()[:texts]
    start = time.perf_counter()
    encoder.embed(sample[:8])
    load = time.perf_counter() - start
    start = time.perf_counter()
    encoder.embed(sample)
    seconds = time.perf_counter() - start
    return {"embedder": encoder.id, "texts": len(sample), "seconds": round(seconds, 2),
            "texts_per_second": round(len(sample) / seconds, 1), "load_seconds": round(load, 2)}


def bench_speed(*, workspace_root: Path, classifiers: tuple[str, ...] = ("minilm-tfidf", "minilm", "linear"),
                executors: tuple[str, ...] = ("local",), fitnesses: tuple[str, ...] = ("cv", "validation"),
                ray_address: str | None = None, evaluations: int = 300, generate_limit: int = 32,
                improve: bool = True, generate: bool = True) -> dict:
    """Everything about speed and memory in one file: peak RSS of a full ``improve`` (measured first, in a fresh
    child), candidate evaluations per second per classifier × executor × fitness with SW over one pair and an
    N-worker estimate, embedded texts per minute. ``improve``/``generate`` False leave those parts out."""
    from autogets.generators.embedded import cache_dir_for

    rss = improve_peak_rss(workspace_root) if improve else None
    search = bench_search(classifiers=classifiers, executors=executors, fitnesses=fitnesses, ray_address=ray_address,
                          evaluations=evaluations, workspace_root=workspace_root)
    gen = bench_generate(cache_dir=cache_dir_for(workspace_root), limit=generate_limit) if generate else None
    embedding = bench_embed()
    default = (find_row(search, classifier=classifiers[0], executor=executors[0], fitness=fitnesses[0])
               or search["rows"][0])
    summary = {"row": {k: default[k] for k in ("classifier", "executor", "fitness")},
               "evaluations_per_second": default["evaluations_per_second"],
               "vs_paper_180_per_hour": default["vs_paper"],
               "sw_one_pair_seconds": default["sw_one_pair"]["wall_seconds"],
               "seconds_per_200_candidates": round(200 / default["evaluations_per_second"], 1),
               "texts_per_minute": gen["texts_per_minute"] if gen else None,
               "embedded_texts_per_second": embedding["texts_per_second"],
               "improve_peak_rss_mib": rss["peak_rss_mib"] if rss else None,
               "improve_wall_seconds": rss["wall_seconds"] if rss else None}
    return {"improve": rss, "search": search, "generate": gen, "embed": embedding, "summary": summary,
            "targets": {"evaluations_per_second": 40, "sw_one_pair_seconds": 10, "improve_peak_rss_mib": 2560,
                        "texts_per_minute": 60, "seconds_per_200_candidates": 60, "embedded_texts_per_second": 100,
                        "improve_first_run_seconds": 210}}
