"""Which classifier ``--classifier auto`` picks for each split seed and goal class (as ``improve --class`` and
``bench quality`` do: by the class's cross-validated CBA on train + validation, ties by macro CBA), with its reason.
``bench quality`` records it per cell since schema 13 (its "M0's classifier" table); this script recomputes it
(deterministic for a seed) for runs made before, and with each choice's reason.

    python benchmarks/auto_choices.py DATASET WORKSPACE [CLASS ...] [--out FILE.json]

Embeddings come from (and go to) the workspace's embedding cache; no class given: every class.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autogets.data import load_dataset, split_dataset
from autogets.embeddings import store_for, use_store
from autogets.selection import resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("workspace")
    parser.add_argument("classes", nargs="*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    parser.add_argument("--out")
    args = parser.parse_args()
    use_store(store_for(Path(args.workspace)))
    dataset = load_dataset(args.dataset)
    rows = []
    for seed in args.seeds:
        split = split_dataset(dataset, seed=seed)
        for cls in args.classes or split.classes:
            name, choice = resolve("auto", split, target=cls, seed=seed)
            rows.append({"seed": seed, "class": cls, "chosen": name, "reason": choice.reason()})
            print(json.dumps(rows[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
