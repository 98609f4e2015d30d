"""Issue 23 item 3: how many of a class's synthetic children each cv fold may train on, with the old spread shots
and with shots that share the source's folds (no LLM needed: the shots are decided before generation).

A child is kept in a fold when neither its source nor any of its shots is held out there. The numbers are the mean
over the 10 folds (5 × 2) of kept children / all children of the class's (at most 60) source examples; 0.8 is the
most any rule can keep (a fold holds out a fifth of the sources).

    .venv/bin/python benchmarks/fold_retention.py
"""

from __future__ import annotations

import numpy as np

from autogets.data import load_dataset, split_dataset
from autogets.generators.base import SourceExample
from autogets.generators.embedded import EmbeddedGenerator
from autogets.pipeline import build_problem, fold_affinity, select_sources

CASES = (("trec6", ("ABBR", "LOC", "DESC")),
         ("banking_dev", ("card_delivery_estimate", "top_up_failed", "virtual_card_not_working")))
SEEDS = range(42, 47)


def kept_share(split, seed: int, target: str, affinity) -> float:
    problem = build_problem(split, [], target, classifier="linear", fitness="cv", seed=seed).problem
    row_of = {t: i for i, t in enumerate([*split.train["text"], *split.validation["text"]])}
    context = [t for t, lab in zip(split.train["text"], split.train["label"], strict=True) if lab == target]
    sources = [e.text for e in select_sources([SourceExample(id=i, text=t, label=target)
                                               for i, t in enumerate(context)], 60)]
    gen = EmbeddedGenerator()
    shots = {t: gen.choose_shots(SourceExample(id=0, text=t, label=target), context, affinity) for t in sources}
    shares = []
    for held in problem.held_out:
        out = set(held.tolist())
        shares.append(np.mean([row_of[t] not in out and not any(row_of[s] in out for s in shots[t])
                               for t in sources]))
    return float(np.mean(shares))


def main() -> None:
    print("| data set | class | training texts (seed 42) | spread shots | fold-aware shots |")
    print("|---|---|---|---|---|")
    for name, classes in CASES:
        dataset = load_dataset(name)
        splits = {seed: split_dataset(dataset, seed=seed) for seed in SEEDS}
        for target in classes:
            before = [kept_share(s, seed, target, None) for seed, s in splits.items()]
            after = [kept_share(s, seed, target, fold_affinity(s, seed)) for seed, s in splits.items()]
            n = int((splits[42].train["label"] == target).sum())
            print(f"| {name} | {target} | {n} | {np.mean(before):.3f} | {np.mean(after):.3f} |", flush=True)


if __name__ == "__main__":
    main()
