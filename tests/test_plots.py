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
