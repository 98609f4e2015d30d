"""Issue 23 item 3: the cross-validated estimate and the test gain before and after the few-shot fold fix, from two
``bench quality`` JSON files of the same classes (their common seeds).

    python benchmarks/compare_shots.py <before.json> <after.json>
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

CLASSES = ("ABBR", "LOC", "DESC")
METHODS = ("improve", "random", "sw", "hsw", "ga", "add-all")
SEARCHES = ("random", "sw", "hsw", "ga", "improve")


def load(path: str) -> dict[tuple, dict]:
    with open(path) as fh:
        cells = json.load(fh)["cells"]
    return {(c["seed"], c["cls"], c["method"]): c for c in cells if c["generator"] != "-"}


def cv_gain(cell: dict) -> float | None:
    value = cell["val_gain"]
    return None if value is None or math.isnan(value) else value


def test_gain(cell: dict) -> float:
    return cell["cba"] - cell["m0_cba"]


def mean_of(cells: list[dict], measure) -> str:
    values = [v for v in (measure(c) for c in cells) if v is not None]
    return f"{np.mean(values):+.4f}" if values else "–"


def main(before_path: str, after_path: str) -> None:
    before, after = load(before_path), load(after_path)
    keys = sorted(set(before) & set(after))
    seeds = sorted({k[0] for k in keys})
    print(f"Seeds {', '.join(map(str, seeds))}; mean over seeds. cv = the cross-validated gain the choice was made on "
          "(out of fold over train + validation); test = class-CBA gain on the split's test.\n")
    print("| class | method | before: cv | before: test | after: cv | after: test |")
    print("|---|---|---|---|---|---|")
    for cls in CLASSES:
        for method in METHODS:
            ks = [k for k in keys if k[1] == cls and k[2] == method]
            if ks:
                b, a = [before[k] for k in ks], [after[k] for k in ks]
                print(f"| {cls} | {method} | {mean_of(b, cv_gain)} | {mean_of(b, test_gain)} | "
                      f"{mean_of(a, cv_gain)} | {mean_of(a, test_gain)} |")
    for name, table in (("before", before), ("after", after)):
        cells = [table[k] for k in keys if k[2] in SEARCHES and cv_gain(table[k]) is not None]
        cv = np.array([cv_gain(c) for c in cells])
        test = np.array([test_gain(c) for c in cells])
        r = np.corrcoef(cv, test)[0, 1] if cv.std() > 0 and test.std() > 0 else float("nan")
        print(f"\n{name}: {len(cells)} search/improve cells, mean cv gain {cv.mean():+.4f}, mean test gain "
              f"{test.mean():+.4f}, correlation {r:+.2f}, cv − test {cv.mean() - test.mean():+.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
