"""``autogets bench classifiers`` (issue 21): M0 for each built-in fast classifier and for ``auto``, over seeds.

Per split seed: every classifier is fitted on train + validation (the product's refit) and scored once on the
split's test and, where the data set has one, on its external test; ``auto`` is the classifier
:func:`autogets.selection.choose_classifier` picks on that split by cross-validated macro CBA (train + validation
only), so its row shows what a user gets by default. ``classes`` (e.g. banking_dev's rare intents) get their own
mean CBA column.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autogets.classifiers import AUTO, AUTO_CANDIDATES, describe, make_classifier
from autogets.data import Dataset, split_dataset
from autogets.metrics import Metrics, compute_metrics
from autogets.selection import choose_classifier

CANDIDATES = (*AUTO_CANDIDATES, "minilm-logreg")
"""What ``auto`` compares, and the slower head it leaves out."""


def _summary(metrics: Metrics, classes: Sequence[str]) -> dict:
    out = {"macro_cba": float(np.mean(metrics.cba)), "accuracy": float(metrics.accuracy),
           "cba": {c: float(metrics.value("cba", c)) for c in metrics.classes}}
    if classes:
        out["classes_cba"] = float(np.mean([metrics.value("cba", c) for c in classes]))
    return out


def run_classifiers(dataset: Dataset, *, seeds: Sequence[int], classifiers: Sequence[str] = CANDIDATES,
                    external: pd.DataFrame | None = None, classes: Sequence[str] = ()) -> dict:
    """Rows per seed and classifier (plus ``auto``), and the means over seeds."""
    rows = []
    for seed in seeds:
        split = split_dataset(dataset, seed=seed)
        real = pd.concat([split.train, split.validation])
        choice = choose_classifier(split, seed=seed)
        fitted: dict[str, dict] = {}
        for name in dict.fromkeys([*classifiers, choice.chosen]):
            start = time.perf_counter()
            model = make_classifier(name).fit(real["text"].tolist(), real["label"].tolist())
            row = {"seed": seed, "classifier": name, "description": describe(name),
                   "fit_seconds": round(time.perf_counter() - start, 2),
                   "test": _summary(compute_metrics(split.test["label"].to_numpy(),
                                                    model.predict(split.test["text"].tolist()), split.classes),
                                    classes)}
            if external is not None:
                row["external"] = _summary(compute_metrics(external["label"].to_numpy(),
                                                           model.predict(external["text"].tolist()),
                                                           split.classes), classes)
            fitted[name] = row
            if name in classifiers:
                rows.append(row)
        rows.append({**fitted[choice.chosen], "classifier": AUTO, "chosen": choice.chosen,
                     "reason": choice.reason()})
    return {"dataset": dataset.name, "seeds": list(seeds), "classes": list(classes),
            "external_rows": None if external is None else len(external), "rows": rows,
            "means": _means(rows, [*classifiers, AUTO])}


def _means(rows: list[dict], names: Sequence[str]) -> dict:
    out = {}
    for name in names:
        mine = [r for r in rows if r["classifier"] == name]
        entry = {}
        for part in ("test", "external"):
            if mine and part in mine[0]:
                for key in ("macro_cba", "accuracy", "classes_cba"):
                    if key in mine[0][part]:
                        values = [r[part][key] for r in mine]
                        entry[f"{part}_{key}"] = [float(np.mean(values)), float(np.std(values))]
        if name == AUTO:
            entry["chosen"] = [r["chosen"] for r in mine]
        out[name] = entry
    return out


def write_classifiers(result: dict, out_dir: Path, *, command: str, tag: str = "") -> tuple[Path, Path]:
    """``<date>-classifiers-<data set>[-tag].json/.md``."""
    from autogets.workspace import write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y-%m-%d')}-classifiers-{result['dataset']}{'-' + tag if tag else ''}"
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    write_json_atomic(json_path, {**result, "command": command})
    md_path.write_text(render_classifiers(result, command))
    return json_path, md_path


def render_classifiers(result: dict, command: str) -> str:
    has_ext = result["external_rows"] is not None
    cls = result["classes"]
    head = ["classifier", "test macro CBA", "test accuracy"]
    if cls:
        head.append(f"test CBA of {len(cls)} classes")
    if has_ext:
        head += ["external macro CBA", "external accuracy"] + ([f"external CBA of {len(cls)} classes"] if cls
                                                                 else [])
    lines = [f"# M0 per classifier: {result['dataset']}", "",
             f"`{command}`", "",
             f"Seeds {', '.join(map(str, result['seeds']))}; every model fitted on train + validation; mean ± std "
             "over seeds. `auto` is what `--classifier auto` (the default) picks on each split by cross-validated "
             "macro CBA on train + validation."
             + (f" External test: {result['external_rows']} texts no split draws from." if has_ext else "")
             + (f" Classes: {', '.join(cls)}." if cls else ""), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, entry in result["means"].items():
        cells = [name if name != AUTO else f"auto ({', '.join(entry.get('chosen', []))})"]
        keys = ["test_macro_cba", "test_accuracy", *(["test_classes_cba"] if cls else [])]
        if has_ext:
            keys += ["external_macro_cba", "external_accuracy", *(["external_classes_cba"] if cls else [])]
        cells += [f"{entry[k][0]:.3f} ± {entry[k][1]:.3f}" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Reasons (auto):", ""]
    lines += [f"- seed {r['seed']}: {r['reason']}" for r in result["rows"] if r["classifier"] == AUTO]
    return "\n".join([*lines, ""])
