"""Compare `autogets bench quality` result files side by side (the tables of the results notes).

    python benchmarks/compare.py LABEL=path/to/result.json [LABEL=...] [--class ABBR ...] [--objective cba]

For every class and method: mean ± std over seeds of the test gain (class CBA for objective CBA, OBA for OBA) in
each run, then the OBA change, and the Pearson correlation of the fitness gain with the test gain over the search
and ensemble cells of each run (pooled and within each class). Reads only the result files; runs nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics as st
from pathlib import Path

METHODS = ("m0-trainval", "class-weighted", "add-all", "random", "sw", "hsw", "ga", "improve")
SEARCHES = ("random", "sw", "hsw", "ga", "improve")


def load(path: Path, objective: str) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    out = []
    for c in cells:
        if c["objective"] not in ("-", objective):
            continue
        gain = c["cba"] - c["m0_cba"] if objective == "cba" else c["oba"] - c["m0_oba"]
        out.append({**c, "gain": gain, "oba_change": c["oba"] - c["m0_oba"]})
    return out


def fmt(values: list[float]) -> str:
    if not values:
        return "–"
    sd = st.stdev(values) if len(values) > 1 else 0.0
    return f"{st.mean(values):+.4f} ± {sd:.4f}"


def pearson(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 3 or st.pstdev(xs) == 0 or st.pstdev(ys) == 0:
        return math.nan
    return st.correlation(xs, ys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=result.json")
    parser.add_argument("--class", dest="classes", action="append", help="Repeatable; default all.")
    parser.add_argument("--objective", default="cba", choices=("cba", "oba"))
    args = parser.parse_args()
    runs = {}
    for spec in args.runs:
        label, _, path = spec.partition("=")
        runs[label] = load(Path(path), args.objective)
    classes = args.classes or sorted({c["cls"] for cells in runs.values() for c in cells})
    unit = "class CBA" if args.objective == "cba" else "OBA"
    print(f"Test {unit} gain over M0 (same refit), mean ± std over seeds; OBA change in brackets.\n")
    print("| class | method | " + " | ".join(runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for cls in classes:
        for m in METHODS:
            row = []
            for cells in runs.values():
                mine = [c for c in cells if c["cls"] == cls and c["method"] == m]
                row.append(f"{fmt([c['gain'] for c in mine])} ({st.mean([c['oba_change'] for c in mine]):+.4f})"
                           if mine else "–")
            if any(r != "–" for r in row):
                print(f"| {cls} | {m} | " + " | ".join(row) + " |")
    print("\nFitness gain against test gain (Pearson r over search and ensemble cells):\n")
    print("| run | cells | pooled | " + " | ".join(classes) + " |")
    print("|---|---|---|" + "---|" * len(classes))
    for label, cells in runs.items():
        mine = [c for c in cells if c["method"] in SEARCHES and c["val_gain"] is not None]
        per = []
        for cls in classes:
            sub = [c for c in mine if c["cls"] == cls]
            r = pearson([c["val_gain"] for c in sub], [c["gain"] for c in sub])
            per.append("–" if math.isnan(r) else f"{r:+.2f}")
        r = pearson([c["val_gain"] for c in mine], [c["gain"] for c in mine])
        print(f"| {label} | {len(mine)} | {'–' if math.isnan(r) else f'{r:+.2f}'} | " + " | ".join(per) + " |")


if __name__ == "__main__":
    main()
