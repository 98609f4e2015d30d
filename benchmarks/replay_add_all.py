"""Replay the "add all" decision of a finished `bench quality` run under the cv fitness (issue 14 notes).

    python benchmarks/replay_add_all.py WORKSPACE CONFIG_KEY [--seeds 42,43,44,45,46] [--max-sources 60]

For every (seed, class): the "add all" candidate's out-of-fold gain of the class's CBA over M0 (mean over the 5 × 2
folds, and that mean over its corrected standard error, the paired rule's t), its out-of-fold OBA change (what the
rule's OBA tolerance reads), and the test gain and OBA change of the run's add-all cell (table ``bench_cells`` of
the workspace, key ``CONFIG_KEY``). Generations must be cached in the workspace (it refuses to generate).
Prints one JSON line per (seed, class), then a summary.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as st

from autogets.data import load_dataset, split_dataset
from autogets.executor import SerialExecutor
from autogets.generators import make_generator
from autogets.generators.cache import GenerationCache
from autogets.pipeline import build_problem, synthesize_class
from autogets.search import Budget, Evaluator
from autogets.search.objectives import make_objective
from autogets.search.robust import AcceptRule, fold_gains
from autogets.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("config_key")
    parser.add_argument("--seeds", default="42,43,44,45,46")
    parser.add_argument("--max-sources", type=int, default=60)
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    cache, db = GenerationCache(ws.db()), ws.db()
    gen = make_generator("embedded", dataset="trec6")
    ds = load_dataset("trec6")
    rule, tol, rows = AcceptRule(), AcceptRule().oba_tolerance, []
    for seed in (int(s) for s in args.seeds.split(",")):
        split = split_dataset(ds, seed=seed)
        for cls in split.classes:
            g = synthesize_class(cache, gen, split, cls, n_per_example=5, seed=seed, max_sources=args.max_sources)
            if g.generated:
                raise SystemExit(f"seed {seed} {cls}: generations were not cached; this replay does not generate")
            problem = build_problem(split, g.synthetic, cls, fitness="cv", folds=5, repeats=2, seed=seed).problem
            goal = make_objective("cba", cls)
            ev = Evaluator(problem, goal, Budget(max_evaluations=2), SerialExecutor())
            ev.evaluate([ev.pool])
            everything = next(e for e in ev.history if e.selection == ev.pool)
            d = fold_gains(goal, everything, ev.baseline)
            se = float(d.std(ddof=1)) * math.sqrt(1 / len(d) + rule.for_problem(problem).ratio)
            test = db.execute("SELECT cba - m0_cba, oba - m0_oba FROM bench_cells WHERE config = ? AND seed = ? "
                              "AND class = ? AND method = 'add-all'", [args.config_key, seed, cls]).fetchone()
            row = {"seed": seed, "cls": cls, "cv_gain": float(d.mean()), "t": float(d.mean()) / se if se else None,
                   "cv_oba": float(everything.metrics.oba - ev.baseline.metrics.oba),
                   "test_gain": test[0] if test else None, "test_oba": test[1] if test else None}
            rows.append(row)
            print(json.dumps(row), flush=True)
    held = [r for r in rows if r["cv_oba"] < -tol and r["test_oba"] is not None]
    passed = [r for r in rows if r["cv_oba"] >= -tol and r["test_oba"] is not None]
    for name, part in (("OBA check fails (cv OBA < -tolerance)", held), ("OBA check passes", passed)):
        if part:
            print(f"{name}: {len(part)} of {len(rows)}; test OBA < -tolerance in "
                  f"{sum(r['test_oba'] < -tol for r in part)}; mean test CBA gain "
                  f"{st.mean(r['test_gain'] for r in part):+.4f}, "
                  f"mean test OBA {st.mean(r['test_oba'] for r in part):+.4f}")


if __name__ == "__main__":
    main()
