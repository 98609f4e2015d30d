from __future__ import annotations

import matplotlib.figure
import numpy as np
import pytest

from autogets.plots import best_so_far


def test_a_crash_while_saving_keeps_the_previous_plot(tmp_path, monkeypatch):
    path = tmp_path / "best.png"
    best_so_far({"sw": [0.0, 0.1]}, path)
    before = path.read_bytes()
    assert before[:4] == b"\x89PNG"
    real_savefig = matplotlib.figure.Figure.savefig

    def crash_half_way(self, fname, *args, **kwargs):  # the disk fills up after a few bytes
        real_savefig(self, fname, *args, **kwargs)
        with open(fname, "r+b") as fh:
            fh.truncate(10)
        raise OSError("No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", crash_half_way)
    with pytest.raises(OSError, match="No space left"):
        best_so_far({"sw": list(np.linspace(0, 1, 5))}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.png"]  # no temporary file left


def test_plots_of_odd_class_names_warn_nothing_and_do_not_crash(tmp_path):
    """Issue 23 item 11: matplotlib's UserWarnings (a glyph missing from the font, a legend with nothing in it) do
    not reach stderr, and a class name with dollar signs is not parsed as mathtext (``$\\nope{$`` crashed)."""
    import warnings

    from autogets.metrics import compute_metrics
    from autogets.plots import pca_pair_map, per_class_bars

    classes = ["数据", "$\\nope{$", "a\x1b[31mred"]
    metrics = compute_metrics(np.array(classes * 2), np.array(classes[1:] + classes[:1] + classes), classes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        per_class_bars({"M0": metrics}, tmp_path / "bars.png", highlight=("数据",), title="数据 $\\nope{$")
        best_so_far({"1. SW": []}, tmp_path / "best.png")
        pca_pair_map(np.zeros((0, 2)), np.zeros(0, bool), tmp_path / "map.png", pair=(0, 1), title="$\\x{$ 数据")
    assert [str(w.message) for w in caught] == []
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("bars.png", "best.png", "map.png"))
