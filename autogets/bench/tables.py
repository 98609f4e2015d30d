"""Summaries of quality cells: mean ± std per (class, generator, objective, method), paired tests against Random,
the paper's Tables 10–11 side by side (markdown), the gains on an external test beside the split's test, and
plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from autogets.bench import paper
from autogets.bench.quality import Cell
from autogets.search.robust import OBA_TOLERANCE
from autogets.textfmt import escape_markdown

GEN_LABEL = {"embedded": "LLM", "openai": "LLM", "eda": "EDA", "-": "-"}
PLAIN = ("class-weighted", "m0-trainval")
"""Baselines without synthetic data (generator "-")."""


def frame(cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per cell and objective it reports on: baselines (objective "-") appear under CBA and OBA."""
    rows = []
    objectives = sorted({c.objective for c in cells if c.objective != "-"}) or ["cba"]
    for c in cells:
        for obj in ([c.objective] if c.objective != "-" else objectives):
            rows.append({"seed": c.seed, "class": c.cls, "generator": c.generator, "objective": obj,
                         "method": c.method, "gain": c.gain(obj), "val_gain": c.val_gain, "m0_cba": c.m0_cba,
                         "cba": c.cba, "m0_oba": c.m0_oba, "oba": c.oba, "evaluations": c.evaluations,
                         "n_synthetic": c.n_synthetic, "seconds": c.seconds, "ext_gain": c.ext_gain(obj),
                         "ext_m0_cba": c.ext_m0_cba, "ext_cba": c.ext_cba, "ext_m0_oba": c.ext_m0_oba,
                         "ext_oba": c.ext_oba, "classifier": c.classifier})
    return pd.DataFrame(rows)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and n of the test gain (and mean validation gain, final CBA) per cell group; ``ext_gain_*``: the
    gain on the external test (NaN without one)."""
    g = df.groupby(["class", "generator", "objective", "method"], sort=False)
    out = g.agg(gain_mean=("gain", "mean"), gain_std=("gain", "std"), n=("gain", "size"),
                val_gain_mean=("val_gain", "mean"), cba_mean=("cba", "mean"), m0_cba_mean=("m0_cba", "mean"),
                ext_gain_mean=("ext_gain", "mean"), ext_gain_std=("ext_gain", "std"),
                ext_cba_mean=("ext_cba", "mean"), ext_m0_cba_mean=("ext_m0_cba", "mean"),
                evaluations=("evaluations", "mean"), seconds=("seconds", "mean")).reset_index()
    out["gain_std"] = out["gain_std"].fillna(0.0)
    out.loc[out["ext_gain_mean"].notna(), "ext_gain_std"] = out["ext_gain_std"].fillna(0.0)
    return out


def paired_vs_random(df: pd.DataFrame) -> pd.DataFrame:
    """Per (class, generator, objective, method): mean paired difference to Random (same generator) over seeds and
    the paired t-test p-value (NaN when fewer than 2 seeds or no variation)."""
    rows = []
    rand = df[df["method"] == "random"].set_index(["class", "generator", "objective", "seed"])["gain"]
    mine_df = df[(df["method"] != "random") & (df["generator"] != "-")]
    for (cls, gen, obj, method), sub in mine_df.groupby(["class", "generator", "objective", "method"], sort=False):
        base = [rand.get((cls, gen, obj, s), math.nan) for s in sub["seed"]]
        mine, base = np.asarray(sub["gain"], float), np.asarray(base, float)
        ok = ~np.isnan(base)
        diff = mine[ok] - base[ok]
        p = _ttest(mine[ok], base[ok])
        rows.append({"class": cls, "generator": gen, "objective": obj, "method": method,
                     "diff_mean": float(diff.mean()) if diff.size else math.nan, "p": p, "n": int(ok.sum())})
    return pd.DataFrame(rows)


def pooled_vs_random(df: pd.DataFrame) -> pd.DataFrame:
    """Across classes and seeds (paired by class and seed): mean difference to Random, wins/ties/losses, and the
    Wilcoxon signed-rank p-value (the paper's "averaged across six classes" comparison)."""
    rows = []
    for (gen, obj), sub in df[df["generator"] != "-"].groupby(["generator", "objective"], sort=False):
        rand = sub[sub["method"] == "random"].set_index(["class", "seed"])["gain"]
        for method, mine in sub[sub["method"] != "random"].groupby("method", sort=False):
            mine = mine.set_index(["class", "seed"])["gain"]
            common = mine.index.intersection(rand.index)
            diff = (mine[common] - rand[common]).to_numpy()
            p = math.nan
            if diff.size >= 2 and np.any(diff != 0):
                p = float(stats.wilcoxon(diff, zero_method="zsplit").pvalue)
            rows.append({"generator": gen, "objective": obj, "method": method, "diff_mean": float(diff.mean()),
                         "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum()),
                         "losses": int((diff < 0).sum()), "p": p, "n": int(diff.size)})
    return pd.DataFrame(rows)


def _ttest(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    if d.size < 2 or np.allclose(d, d[0]):
        return math.nan
    return float(stats.ttest_rel(a, b).pvalue)


def _fmt(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:+.4f} ± {std:.4f}" if n > 1 else f"{mean:+.4f}"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else f"{p:.3f}" + (" *" if p < 0.05 else "")


def _lever6(config: dict) -> str:
    """The text filters and prompt variants a run used (issue 14 lever 6), or nothing for the defaults."""
    parts = []
    if config.get("filter_margin") is not None:
        parts.append(f"filter margin {config['filter_margin']}")
    if config.get("dedupe") is not None:
        parts.append(f"dedupe Jaccard ≥ {config['dedupe']}")
    if config.get("shots", "spread") != "spread":
        parts.append(f"embedded shots `{config['shots']}`")
    if config.get("contrast"):
        parts.append("embedded contrast block (most-confused class)")
    return ("; " + ", ".join(parts)) if parts else ""


def external_label(external: dict | None) -> str:
    """"external test (N per class)" (N a range when the classes differ) from :meth:`ExternalTest.describe`."""
    counts = sorted((external or {}).get("per_class", {}).values())
    if not counts:
        return "external test"
    n = str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}"
    return f"external test ({n} per class)"


def markdown(cells: Sequence[Cell], *, dataset: str, config: dict, elapsed: float | None = None,
             external: dict | None = None) -> str:
    """The results page: Tables 10–11 layout with the paper's numbers, baselines, tests, absolute targets; with an
    external test (``external``: :meth:`ExternalTest.describe`), the gains on it beside the split's test."""
    df = frame(cells)
    if df.empty:
        return f"# Quality benchmark: {dataset}\n\nNo cells.\n"
    summ = summary(df).set_index(["class", "generator", "objective", "method"])
    classes = [c for c in paper.CLASSES if c in set(df["class"])] + sorted(set(df["class"]) - set(paper.CLASSES))
    gens = [g for g in ("eda", "embedded", "openai") if g in set(df["generator"])]
    strategies = [s for s in paper.STRATEGIES if s in set(df["method"])]
    seeds = sorted(set(df["seed"]))
    is_trec = dataset == "trec6"
    lines = [f"# Quality benchmark: {dataset}", "",
             f"Seeds {', '.join(map(str, seeds))} (split and search seed); budget {config.get('budget')} candidate "
             f"evaluations per search; {config.get('n_per_example')} synthetic texts per source example, at most "
             f"{config.get('max_sources')} source examples per class; classifier `{config.get('classifier')}`; "
             f"fitness `{config.get('fitness', 'validation')}`"
             + (f" ({config.get('folds')} folds × {config.get('repeats')})" if config.get("fitness") == "cv" else "")
             + f", accept `{config.get('accept', 'no_drop')}`"
             + (f" (z = {config.get('accept_z')}, OBA tolerance {config.get('oba_tolerance', OBA_TOLERANCE):g})"
                if config.get("accept") == "paired" else "")
             + f", refit on `{config.get('refit', 'train')}` (M0 too), phase winner by "
             f"`{config.get('winner', 'objective')}`"
             + _lever6(config) + ". "
             "Gains are on the **test** split against M0 on the same split and features, mean ± std over seeds; "
             "every choice was made on validation. Search time summed over all cells "
             f"{sum(c.seconds for c in cells) / 60:.1f} min (generation and feature fitting excluded)"
             + (f"; this invocation {elapsed / 60:.1f} min (cells finished earlier are reused)." if elapsed is not None
                else ".")
             + (f" Every model is also scored on an **{external_label(external)}**: see its section."
                if external else ""), ""]
    for obj, title in (("cba", "Table 11 layout: class CBA gain (objective CBA)"),
                       ("oba", "Table 10 layout: OBA gain (objective OBA)")):
        if obj not in set(df["objective"]):
            continue
        lines += [f"## {title}", ""]
        cols = [(s, g) for s in strategies for g in gens]
        head = ["class"] + [f"{s.upper() if s != 'random' else 'Random'} {GEN_LABEL[g]}" for s, g in cols]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for cls in classes:
            row = [escape_markdown(cls)]
            for s, g in cols:
                key = (cls, g, obj, s)
                cell = _fmt(*summ.loc[key, ["gain_mean", "gain_std", "n"]]) if key in summ.index else "–"
                ref = paper.paper_gain(obj, cls, s, g) if is_trec else None
                row.append(cell + (f" (paper {ref:+.4f})" if ref is not None else ""))
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        others = [m for m in ("improve", "add-all", *PLAIN) if m in set(df["method"])]
        if others:
            lines += [f"Baselines and the ensemble ({obj.upper()} gain on test; m0-trainval: M0 on train + "
                      "validation against M0 on train):", ""]
            head = ["class"] + [f"{m} {GEN_LABEL[g]}" if m not in PLAIN else m
                                for m in others for g in (gens if m not in PLAIN else ["-"])]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for cls in classes:
                row = [escape_markdown(cls)]
                for m in others:
                    for g in (gens if m not in PLAIN else ["-"]):
                        key = (cls, g, obj, m)
                        row.append(_fmt(*summ.loc[key, ["gain_mean", "gain_std", "n"]]) if key in summ.index else "–")
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
    lines += _external(df, summ, classes, gens, external)
    if len(seeds) > 1:
        pooled = pooled_vs_random(df)
        if not pooled.empty:
            lines += ["## Against Random, pooled over classes and seeds", "",
                      "Paired by class and seed; Wilcoxon signed-rank test; * = p < 0.05.", "",
                      "| generator | objective | method | mean gain − Random | wins / ties / losses | p |",
                      "|---|---|---|---|---|---|"]
            for r in pooled.itertuples():
                lines.append(f"| {GEN_LABEL[r.generator]} | {r.objective.upper()} | {r.method} | {r.diff_mean:+.4f} "
                             f"| {r.wins} / {r.ties} / {r.losses} | {_p(r.p)} |")
            lines.append("")
        per = paired_vs_random(df)
        per = per[per["method"].isin([*strategies, "improve"])]
        if not per.empty:
            lines += ["## Against Random, per class", "",
                      f"Paired t-test over {len(seeds)} seeds (p-value; * = p < 0.05; – = no variation).", ""]
            for obj in [o for o in ("cba", "oba") if o in set(per["objective"])]:
                methods = [m for m in (*strategies, "improve") if m != "random" and m in set(per["method"])]
                cols = [(m, g) for m in methods for g in gens]
                head = ["class"] + [f"{m.upper() if m != 'improve' else 'improve'} {GEN_LABEL[g]}" for m, g in cols]
                lines += [f"{obj.upper()}:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                idx = per.set_index(["class", "generator", "objective", "method"])
                for cls in classes:
                    row = [escape_markdown(cls)]
                    for m, g in cols:
                        k = (cls, g, obj, m)
                        row.append(f"{idx.loc[k, 'diff_mean']:+.4f} (p {_p(idx.loc[k, 'p'])})" if k in idx.index
                                   else "–")
                    lines.append("| " + " | ".join(row) + " |")
                lines.append("")
    if "embedded" in gens and "eda" in gens:
        lines += ["## LLM against EDA", "", "Mean over classes and seeds of (LLM gain − EDA gain), same method.", "",
                  "| objective | " + " | ".join(strategies) + " |", "|---|" + "---|" * len(strategies)]
        for obj in [o for o in ("cba", "oba") if o in set(df["objective"])]:
            row = [obj.upper()]
            for s in strategies:
                a = df[(df["method"] == s) & (df["objective"] == obj) & (df["generator"] == "embedded")]
                b = df[(df["method"] == s) & (df["objective"] == obj) & (df["generator"] == "eda")]
                m = a.merge(b, on=["class", "seed"], suffixes=("_llm", "_eda"))
                row.append(f"{(m['gain_llm'] - m['gain_eda']).mean():+.4f}" if len(m) else "–")
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += _m0_classifiers(df, classes)
    lines += _selection_pays(df, classes, gens)
    lines += _transfer(df)
    lines += _absolute(df, classes, gens, is_trec)
    return "\n".join(lines) + "\n"


def _external(df: pd.DataFrame, summ: pd.DataFrame, classes: list[str], gens: list[str],
              external: dict | None) -> list[str]:
    """Gains on the external test beside the split's test: the same M0 and final models, mean ± std over seeds."""
    if df["ext_gain"].isna().all():
        return []
    label = external_label(external)
    info = external or {}
    lines = [f"## Gains on the {label}, beside the split's test", ""]
    if info:
        lines += [f"{escape_markdown(Path(str(info.get('source', ''))).name)}: {info.get('rows')} texts no split "
                  f"draws from ({info.get('overlap_dropped', 0)} that also occur in the data set dropped). Every M0 "
                  "and final model above is scored on it too; a rare class's gain is measured on all of its external "
                  "texts instead of the few its test split holds.", ""]
    per_class = info.get("per_class", {})
    m0 = df[~df["method"].isin(PLAIN)].groupby("class")[["m0_cba", "ext_m0_cba"]].mean()
    lines += ["M0's class CBA (mean over seeds and generators):", "",
              "| class | external texts | M0 CBA, split test | M0 CBA, external test |", "|---|---|---|---|"]
    for cls in classes:
        a, b = (m0.loc[cls, "m0_cba"], m0.loc[cls, "ext_m0_cba"]) if cls in m0.index else (math.nan, math.nan)
        lines.append(f"| {escape_markdown(cls)} | {per_class.get(cls, '–')} | {a:.3f} | {b:.3f} |")
    lines.append("")
    methods = [m for m in (*paper.STRATEGIES, "improve", "add-all", *PLAIN) if m in set(df["method"])]
    for obj in [o for o in ("cba", "oba") if o in set(df["objective"])]:
        head = ["class", "method"] + [f"{part} {GEN_LABEL[g]}" for g in gens for part in ("split test", label)]
        lines += [f"{'Class CBA' if obj == 'cba' else 'OBA'} gain (objective {obj.upper()}); {', '.join(PLAIN)} "
                  "use no synthetic data (the same numbers under every generator):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for cls in classes:
            for m in methods:
                row, seen = [escape_markdown(cls), m], False
                for g in gens:
                    key = (cls, "-" if m in PLAIN else g, obj, m)
                    if key in summ.index:
                        seen = True
                        row += [_fmt(*summ.loc[key, ["gain_mean", "gain_std", "n"]]),
                                _fmt(*summ.loc[key, ["ext_gain_mean", "ext_gain_std", "n"]])]
                    else:
                        row += ["–", "–"]
                if seen:
                    lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def _selection_pays(df: pd.DataFrame, classes: list[str], gens: list[str]) -> list[str]:
    """Does choosing pay (issue 14's targets)? Per class, objective CBA: ``improve``'s mean test gain against "add
    all" and Random on the same seeds, and the OBA change ``improve`` costs."""
    sub = df[(df["objective"] == "cba") & df["method"].isin(["improve", "add-all", "random"])]
    lines: list[str] = []
    for gen in gens:
        mine = sub[sub["generator"] == gen].pivot_table(index=["class", "seed"], columns="method", values="gain")
        if not {"improve", "add-all", "random"} <= set(mine.columns):
            continue
        mine = mine.dropna()
        oba = df[(df["method"] == "improve") & (df["objective"] == "cba") & (df["generator"] == gen)]
        oba = (oba["oba"] - oba["m0_oba"]).groupby(oba["class"]).mean()
        if not lines:
            lines += ["## Does choosing pay? `improve` against add-all and Random (objective CBA)", "",
                      "Mean test CBA gain over the same seeds; `improve` − add-all and − Random; OBA change of "
                      "`improve`.", ""]
        lines += [f"{GEN_LABEL.get(gen, gen)}:", "",
                  "| class | improve | add-all | Random | − add-all | − Random | beats both | OBA change |",
                  "|---|---|---|---|---|---|---|---|"]
        wins = 0
        for cls in [c for c in classes if c in mine.index.get_level_values(0)]:
            m = mine.loc[cls].mean()
            beats = m["improve"] > m["add-all"] and m["improve"] > m["random"]
            wins += bool(beats)
            lines.append(f"| {escape_markdown(cls)} | {m['improve']:+.4f} | {m['add-all']:+.4f} | {m['random']:+.4f} "
                         f"| {m['improve'] - m['add-all']:+.4f} | {m['improve'] - m['random']:+.4f} | "
                         f"{'yes' if beats else 'no'} | {oba.get(cls, math.nan):+.4f} |")
        counted = sorted(set(mine.index.get_level_values(0)))
        lines += ["", f"`improve` beats both on {wins} of {len(counted)} classes; mean class-CBA gain "
                      f"{mine['improve'].mean():+.4f}, mean OBA change {oba.reindex(counted).mean():+.4f}.", ""]
    return lines


def _m0_classifiers(df: pd.DataFrame, classes: list[str]) -> list[str]:
    """Which classifier M0 was, per class, over seeds (with ``auto``: chosen per seed and class); nothing for cells
    stored before the classifier was recorded."""
    known = df[df["classifier"].astype(bool)].drop_duplicates(["class", "seed"])
    if known.empty:
        return []
    lines = ["## M0's classifier", "", "Per class: the classifier of M0 and of every model of its cells, and on how "
             "many seeds (`auto` chooses per seed and class, by the class's cross-validated CBA).", "",
             "| class | classifier (seeds) |", "|---|---|"]
    for cls in classes:
        counts = known[known["class"] == cls]["classifier"].value_counts()
        if len(counts):
            lines.append(f"| {escape_markdown(cls)} | "
                         f"{', '.join(f'`{escape_markdown(n)}` {k}' for n, k in counts.items())} |")
    return [*lines, ""]


def _transfer(df: pd.DataFrame) -> list[str]:
    """How much of the validation gain the searches found survives on test (their correlation over cells)."""
    sub = df[df["method"].isin([*paper.STRATEGIES, "improve"])].dropna(subset=["val_gain"])
    if len(sub) < 3:
        return []
    lines = ["## Fitness gain against test gain", "",
             "Searches and ensembles: mean gain by the fitness the choice is made on (validation, or out-of-fold over "
             "train + validation with fitness `cv`) and on test, and their Pearson correlation over cells.", "",
             "| generator | objective | cells | mean fitness gain | mean test gain | correlation |",
             "|---|---|---|---|---|---|"]
    for (gen, obj), g in sub.groupby(["generator", "objective"], sort=False):
        r = g["val_gain"].corr(g["gain"]) if g["val_gain"].std() > 0 and g["gain"].std() > 0 else math.nan
        lines.append(f"| {GEN_LABEL.get(gen, gen)} | {obj.upper()} | {len(g)} | {g['val_gain'].mean():+.4f} | "
                     f"{g['gain'].mean():+.4f} | {'–' if math.isnan(r) else f'{r:+.2f}'} |")
    lines.append("")
    return lines


def _absolute(df: pd.DataFrame, classes: list[str], gens: list[str], is_trec: bool) -> list[str]:
    sub = df[df["objective"] == "cba"]
    if sub.empty:
        return []
    gen = "embedded" if "embedded" in gens else (gens[0] if gens else "-")
    sub = sub[sub["generator"] == gen]
    methods = [m for m in ("improve", "sw", "hsw", "ga", "random", "add-all") if m in set(sub["method"])]
    head = ["class", "our M0", *methods]
    if is_trec:
        head += ["paper M0", "paper target", "improve ≥ target"]
    lines = [f"## Final test CBA (objective CBA, {GEN_LABEL.get(gen, gen)})", "",
             "Mean over seeds, M0 ours" + ("; the paper's target is its M0 plus its best gain (Tables 9 and 11)."
                                           if is_trec else "."), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cls in classes:
        mine = sub[sub["class"] == cls]
        row = [escape_markdown(cls), f"{mine['m0_cba'].mean():.3f}"]
        row += [f"{mine[mine['method'] == m]['cba'].mean():.3f}" for m in methods]
        if is_trec:
            target, final = paper.cba_target(cls), mine[mine["method"] == "improve"]["cba"]
            row += [f"{paper.M0[cls]['cba']:.3f}" if cls in paper.M0 else "–", f"{target:.3f}" if target else "–",
                    ("yes" if final.mean() >= target else "no") if target and len(final) else "–"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def plot_gains(cells: Sequence[Cell], path: Path, *, objective: str = "cba", generator: str = "embedded") -> Path:
    """Grouped bars: test gain per class per method (mean ± std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autogets.plots import plot_text, quiet_warnings

    df = frame(cells)
    df = df[(df["objective"] == objective) & (df["generator"].isin([generator, "-"]))]
    summ = summary(df)
    classes = sorted(dict.fromkeys(summ["class"]), key=lambda c: (c not in paper.CLASSES,
                                                                   paper.CLASSES.index(c) if c in paper.CLASSES else 0,
                                                                   c))
    methods = [m for m in ("random", "sw", "hsw", "ga", "improve", "add-all", *PLAIN)
               if m in set(summ["method"])]
    fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(classes) + 2), 4.2))
    width = 0.8 / max(1, len(methods))
    for k, m in enumerate(methods):
        s = summ[summ["method"] == m].set_index("class").reindex(classes)
        ax.bar(np.arange(len(classes)) + k * width - 0.4 + width / 2, s["gain_mean"], width, yerr=s["gain_std"],
               label=m, capsize=2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(classes)), [plot_text(c) for c in classes])
    ax.set_ylabel(f"test {objective.upper()} gain over M0")
    ax.set_title(f"{objective.upper()} gain per class ({GEN_LABEL.get(generator, generator)}; mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    with quiet_warnings():  # e.g. a class name's glyph missing from the font, an empty legend
        ax.legend(fontsize=7, ncol=4)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curves(cells: Sequence[Cell], path: Path, *, objective: str = "cba", generator: str = "embedded") -> Path:
    """Best-so-far validation gain vs evaluations per strategy, averaged over classes and seeds."""
    from autogets.plots import best_so_far

    curves = {}
    for s in paper.STRATEGIES:
        mine = [c.curve for c in cells if c.method == s and c.objective == objective and c.generator == generator
                and c.curve]
        if mine:
            n = max(len(c) for c in mine)
            padded = np.array([list(c) + [c[-1]] * (n - len(c)) for c in mine])
            curves[s] = padded.mean(axis=0).tolist()
    return best_so_far(curves, path, ylabel=f"validation {objective.upper()} gain (mean)",
                       title=f"Best so far vs evaluations ({GEN_LABEL.get(generator, generator)}, {objective.upper()}; "
                             "mean over classes and seeds)")


def write_quality(cells: Sequence[Cell], config, *, dataset: str, name: str, out_dir: Path,
                  elapsed: float | None = None, external: dict | None = None) -> tuple[Path, Path, str]:
    """Write ``<date>-<name>.md`` with its plots (staged, then moved: all files or none) and, last,
    ``<date>-<name>.json``; returns (json path, markdown path, markdown text). ``external``: the external test's
    :meth:`ExternalTest.describe` (recorded as ``external_test``)."""
    import os
    import tempfile

    from autogets.bench import result_path, write_result

    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()}
    text = markdown(cells, dataset=dataset, config=settings, elapsed=elapsed, external=external)
    md = result_path(name, out_dir, ".md")
    plots = {f"{kind}-{obj}-{g}": result_path(f"{name}-{kind}-{obj}-{g}", out_dir, ".png")
             for obj in config.objectives for g in config.generators for kind in ("gains", "curves")}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".quality-") as tmp:
        staged = Path(tmp)
        for key, final in plots.items():
            kind, obj, g = key.split("-", 2)
            (plot_gains if kind == "gains" else plot_curves)(cells, staged / final.name, objective=obj, generator=g)
        (staged / md.name).write_text(text + "\n" + "".join(f"![{k}]({p.name})\n" for k, p in plots.items()),
                                      encoding="utf-8")
        for final in [*plots.values(), md]:
            os.replace(staged / final.name, final)
    payload = {"dataset": dataset, "config": settings, "external_test": external,
               "invocation_seconds": None if elapsed is None else round(elapsed, 1),  # cells done earlier reused
               "search_seconds": round(sum(c.seconds for c in cells), 1),
               "summary": summary(frame(cells)).to_dict(orient="records"),
               "cells": [{k: v for k, v in c.__dict__.items() if k != "curve"} for c in cells],
               "markdown": md.name, "plots": {k: p.name for k, p in plots.items()}}
    return write_result(name, payload, out_dir), md, text
