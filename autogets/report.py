"""A run's report: the gain sentence with its uncertainty, which classifier M0 is and why, report.md and its PNGs
(method Part A §12), and the metrics stored with a report. Rendering only; :func:`autogets.steps.report_step`
measures and calls it."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autogets.metrics import Metrics
from autogets.textfmt import escape_markdown
from autogets.workspace import atomic_folder

FEW_TEST_EXAMPLES = 30
"""Below this many test examples of the class, a reported gain is flagged as too few to confirm."""


def metrics_of(data: dict) -> tuple[Metrics, Metrics]:
    """M0 and final test metrics of a stored report."""
    from autogets.metrics import metrics_from_confusion

    t = data["test"]
    return (metrics_from_confusion(np.asarray(t["m0"]["confusion"]), t["m0"]["classes"]),
            metrics_from_confusion(np.asarray(t["final"]["confusion"]), t["final"]["classes"]))


def gain_sentence(data: dict, escape: Callable[[str], str] = str) -> str:
    """The test gain of the class with its uncertainty, in words (CLI, report.md, chat). The untrusted parts (the
    class name, the goal) go through ``escape`` (report.md: :func:`escape_markdown`); the plain sentence is escaped
    by whoever shows it (the CLI: ``escape_rich``)."""
    t = data["test"]
    lo, hi = t["interval"]
    text = (f"{escape(data['class'])} test CBA {t['rows'][_row(t, data['class'])]['cba_m0']:.3f} → "
            f"{t['rows'][_row(t, data['class'])]['cba_new']:.3f} ({t['class_cba_gain']:+.3f}; 95% bootstrap "
            f"interval {lo:+.3f} to {hi:+.3f}, {t['support']} test examples)")
    cv = cross_validated_gain(data, escape)
    if t["few_examples"]:
        text += f"; too few test examples to confirm (under {FEW_TEST_EXAMPLES}): read the interval"
        text += f" and the cross-validated estimate, {cv}" if cv else ", not the point estimate"
    elif cv:
        text += f"; cross-validated estimate {cv}"
    return text


def cross_validated_gain(data: dict, escape: Callable[[str], str] = str) -> str:
    """The search's own estimate of the goal's gain over M0 (folds of train + validation), in words; "" when the
    fitness was the single validation split or no phase ran. Each phase's change is measured from its own start (for
    several goals the values are changes, not levels), so the accepted phases' changes add up; a reverted phase adds
    0, and a run reverted to M0 at the end gains 0."""
    decisions = data.get("decisions") or []
    if data.get("selection", {}).get("fitness") != "cv" or not decisions:
        return ""
    gain = sum(d["goal_after"] - d["goal_before"] for d in decisions if d["accepted"]) if data.get("changed") else 0.0
    return f"{gain:+.3f} ({escape(data['goal'])}, out-of-fold over train + validation)"


def tolerance_sentence(tolerance: float) -> str:
    """The accuracy guard's setting in words when a person changed it ("" at the default), shown with the plan."""
    from autogets.search.robust import OBA_TOLERANCE

    if tolerance == OBA_TOLERANCE:
        return ""
    return (f"Accuracy guard: a change may lower OBA by at most {tolerance:g} (oba-tolerance; default "
            f"{OBA_TOLERANCE:g}).")


def held_trade(data: dict) -> dict | None:
    """The largest goal gain a phase refused only because OBA would drop beyond the tolerance (its phase, gain,
    OBA and accuracy change on the fitness, and the tolerance that would accept it), or None."""
    held = [d for d in data.get("decisions") or [] if d.get("held_by_oba")]
    if not held:
        return None
    d = max(held, key=lambda d: d["held_by_oba"]["gain"])
    drop = -d["held_by_oba"]["oba_change"]
    return {"phase": d["phase"], **d["held_by_oba"], "tolerance": data.get("selection", {}).get("oba_tolerance"),
            "accepting_tolerance": accepting_tolerance(drop)}


def accepting_tolerance(drop: float) -> float:
    """The smallest multiple of 0.001 with which the accuracy guard (:func:`~autogets.search.robust.oba_within`)
    passes an OBA drop of ``drop``."""
    from autogets.search.robust import oba_within

    tolerance = math.ceil(round(drop * 1000, 9)) / 1000
    return tolerance if oba_within(-drop, tolerance) else tolerance + 0.001


def trade_sentence(data: dict, how: str, escape: Callable[[str], str] = str) -> str:
    """"" or, when the accuracy guard held back a gain of the goal (:func:`held_trade`), the trade in words and how
    to accept it: ``how`` formats the tolerance into the command a person types (CLI or chat)."""
    t = held_trade(data)
    if t is None:
        return ""
    tolerance = "" if t["tolerance"] is None else f" (tolerance {t['tolerance']:g})"
    where = "cross-validation" if data.get("selection", {}).get("fitness") == "cv" else "validation"
    accept = how.format(tolerance=format(t["accepting_tolerance"], "g"))
    return (f"The accuracy guard held back what {escape(t['phase'])} found: {escape(data['goal'])} {t['gain']:+.3f} on "
            f"{where}, but OBA {t['oba_change']:+.4f}{tolerance}, accuracy {100 * t['accuracy_change']:+.1f} "
            f"points. To accept that trade: {accept}")


def classifier_sentence(data: dict) -> str:
    """Which classifier M0 (and the improved model) is, and why: e.g. "MiniLM + balanced ridge, chosen over
    TF-IDF + linear SVM by cross-validated macro CBA .899 vs .890"."""
    info = data.get("classifier") or {}
    if info.get("reason"):
        return info["reason"]
    from autogets.classifiers import describe

    return describe(info.get("name") or "linear")


def _row(t: dict, cls: str) -> int:
    return next(i for i, r in enumerate(t["rows"]) if r["class"] == cls)


def write_run_report(folder: Path, data: dict, m0_test: Metrics, final_test: Metrics, chosen: list,
                     pca: tuple[Any, dict | None] | None) -> dict[str, Path]:
    """report.md and the PNGs of method Part A §12, written atomically into ``folder``."""
    from autogets.plots import best_so_far, pca_pair_map, per_class_bars

    target = data["class"]
    with atomic_folder(folder) as tmp:
        per_class_bars({"M0 (test)": m0_test, "improved (test)": final_test}, tmp / "per_class.png",
                       metric="cba", highlight=(target,),
                       title=f"{data['dataset']}: per-class CBA on test, M0 vs improved")
        best_so_far({f"{i + 1}. {d['phase']}": d["best_so_far"] for i, d in enumerate(data["decisions"])},
                    tmp / "best_so_far.png", title="Best gain so far per phase (validation, phase objective)")
        files = {"markdown": folder / "report.md", "per_class": folder / "per_class.png",
                 "best_so_far": folder / "best_so_far.png"}
        if pca is not None:
            view, choice = pca
            pair = tuple(choice["pair"]) if choice else (0, 1)
            used = sorted({s.source_id for s in chosen if s.label == target})
            pca_pair_map(view.xy(pair), view.correct, tmp / "pca_map.png", pair=pair,
                         window=tuple(choice["window"]) if choice else None, others=view.other_coords[:, list(pair)],
                         selected=np.isin(view.pool_ids, used),
                         title=f"{target} training points, PCA pair {pair}\n(red = M0 wrong, circled = used)")
            files["pca_map"] = folder / "pca_map.png"
        (tmp / "report.md").write_text(render_markdown(data, chosen, has_map=pca is not None))
    return files


def render_markdown(data: dict, chosen: list, *, has_map: bool = True) -> str:
    t = data["test"]
    lines = [f"# AutoGeTS improve: {escape_markdown(data['dataset'])}, goal {escape_markdown(data['goal'])}", "",
             f"Run {data['run_id']}. Plan from the {data['plan_source']}.", "",
             f"M0: {escape_markdown(classifier_sentence(data))}.", "", "## Phases", "",
             "| # | phase | why | decision | evaluations | texts added |", "|---|---|---|---|---|---|"]
    for i, d in enumerate(data["decisions"]):
        lines.append(f"| {i + 1} | {escape_markdown(d['phase'])} | {escape_markdown(d['why'])} | "
                     f"{escape_markdown(d['decision'])} | {d['evaluations']} | {d['added_texts']} |")
    if trade := trade_sentence(data, "`--oba-tolerance {tolerance}` (CLI) or `oba-tolerance {tolerance}` (chat).",
                               escape_markdown):
        lines += ["", trade]
    lines += ["", "## Test split: M0 vs improved", "", gain_sentence(data, escape_markdown) + ".", "",
              "| class | support | CBA M0 | CBA new | Δ |", "|---|---|---|---|---|"]
    for r in t["rows"]:
        lines.append(f"| {escape_markdown(r['class'])} | {r['support']} | {r['cba_m0']:.3f} | {r['cba_new']:.3f} | "
                     f"{r['delta']:+.3f} |")
    lines += [f"| accuracy | | {t['accuracy_m0']:.3f} | {t['accuracy_new']:.3f} | "
              f"{t['accuracy_new'] - t['accuracy_m0']:+.3f} |", "",
              f"{len(chosen)} synthetic texts in the final training set. A sample:", ""]
    lines += [f"- {escape_markdown(s.text, max_len=300)} *(from example {s.source_id})*" for s in chosen[:10]]
    lines += ["", "![per-class CBA](per_class.png)", "![best so far](best_so_far.png)"]
    if has_map:
        lines.append("![PCA map](pca_map.png)")
    return "\n".join([*lines, ""])
