"""PNG plots (matplotlib, Agg backend): per-class bars, best-so-far curves, PCA-pair maps. Every plot is written
to a unique temporary file and renamed into place (:func:`save_figure`), so a reader never sees half a PNG.

Class names and titles are user text: drawn literally (a ``$`` starts no mathtext, :func:`plot_text`), and
matplotlib's UserWarnings about them (a glyph missing from the font, an empty legend) stay out of stderr."""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autogets.metrics import Metrics  # noqa: E402
from autogets.textfmt import visible_controls  # noqa: E402


def plot_text(text: object) -> str:
    """``text`` drawn as it is: control characters made visible (:func:`autogets.textfmt.visible_controls`; newlines
    stay) and dollar signs escaped, so matplotlib parses no mathtext (``$\\nope{$`` raised)."""
    return visible_controls(text, keep="\n").replace("$", r"\$")


@contextlib.contextmanager
def quiet_warnings():
    """Silence matplotlib's UserWarnings (they would reach the user's stderr) inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def quiet(plot):
    """``plot`` run under :func:`quiet_warnings`."""

    @functools.wraps(plot)
    def quietly(*args, **kwargs):
        with quiet_warnings():
            return plot(*args, **kwargs)

    return quietly


@quiet
def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Save ``fig`` to ``path`` atomically (unique temporary file in the same folder, then rename) and close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(6).hex()}.tmp")
    try:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)
    return path


@quiet
def per_class_bars(models: Mapping[str, Metrics], path: Path, *, metric: str = "cba", title: str = "",
                   highlight: Sequence[str] = ()) -> Path:
    """Grouped bars of one per-class metric for one or more models (e.g. M0 validation/test, or before/after)."""
    names = list(models)
    classes = list(next(iter(models.values())).classes)
    x = np.arange(len(classes))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(classes) + 2), 4))
    for k, name in enumerate(names):
        values = getattr(models[name], metric)
        bars = ax.bar(x + (k - (len(names) - 1) / 2) * width, values, width, label=plot_text(name))
        for rect, v in zip(bars, values, strict=True):
            ax.annotate(f"{v:.3f}", (rect.get_x() + rect.get_width() / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [plot_text(f"{c}\n(weak)" if c in highlight else c) for c in classes])
    lo = min(float(np.min(getattr(m, metric))) for m in models.values())
    ax.set_ylim(max(0.0, lo - 0.1), 1.02)
    ax.set_ylabel(metric.upper() if metric in {"cba", "f1"} else metric)
    ax.set_title(plot_text(title or f"Per-class {metric}"))
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@quiet
def best_so_far(curves: Mapping[str, Sequence[float]], path: Path, *, ylabel: str = "gain over M0 (validation)",
                title: str = "Best so far") -> Path:
    """Running best of each curve against evaluation number."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        if len(values):
            ax.plot(np.arange(1, len(values) + 1), np.maximum.accumulate(np.asarray(values, dtype=float)),
                    label=plot_text(name))
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("candidate evaluations")
    ax.set_ylabel(plot_text(ylabel))
    ax.set_title(plot_text(title))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


@quiet
def pca_pair_map(points: np.ndarray, correct: np.ndarray, path: Path, *, pair: tuple[int, int],
                 window: tuple[float, float, float, float] | None = None, others: np.ndarray | None = None,
                 selected: np.ndarray | None = None, title: str = "") -> Path:
    """The target class's training points on one PCA pair: red = M0 wrong, blue = M0 right; window drawn."""
    fig, ax = plt.subplots(figsize=(6, 5))
    if others is not None and len(others):
        ax.scatter(others[:, 0], others[:, 1], s=4, c="lightgrey", label="other classes")
    ax.scatter(points[correct, 0], points[correct, 1], s=14, c="tab:blue", label="M0 right")
    ax.scatter(points[~correct, 0], points[~correct, 1], s=18, c="tab:red", label="M0 wrong")
    if selected is not None and selected.any():
        ax.scatter(points[selected, 0], points[selected, 1], s=60, facecolors="none", edgecolors="black",
                   label="selected")
    if window is not None:
        x0, x1, y0, y1 = window
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="black", lw=1.5, ls="--"))
    ax.set_xlabel(f"PC{pair[0]}")
    ax.set_ylabel(f"PC{pair[1]}")
    ax.set_title(plot_text(title or f"PCA pair ({pair[0]}, {pair[1]})"), fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)
