"""Window maths shared by SW and HSW (method Part B §4.1–4.3).

A window is ``(x_start, x_end, y_start, y_end)``; a point is inside when ``x_start <= x <= x_end`` and
``y_start <= y <= y_end``. The search area of a PCA pair is "TopicMinMax": ``(min·1.01, max·1.01)`` per axis over
the target class's training points, exactly as the authors' code computes it.
"""

from __future__ import annotations

import numpy as np

Window = tuple[float, float, float, float]


def topic_min_max(xy: np.ndarray) -> Window:
    """The paper's area: each axis's (min × 1.01, max × 1.01) over the points."""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return float(x0 * 1.01), float(x1 * 1.01), float(y0 * 1.01), float(y1 * 1.01)


def sliding_windows(area: Window, num_segments: int, window_size: int) -> list[Window]:
    """All windows of ``window_size`` segments stepping one segment: ``(num_segments − window_size + 1)²``.

    Outer loop x, inner loop y, as in the authors' code.
    """
    if not 1 <= window_size <= num_segments:
        raise ValueError(f"window_size must be in 1..{num_segments}, got {window_size}")
    ax0, ax1, ay0, ay1 = area
    seg_x, seg_y = (ax1 - ax0) / num_segments, (ay1 - ay0) / num_segments
    steps = num_segments - window_size + 1
    return [(ax0 + i * seg_x, ax0 + i * seg_x + window_size * seg_x,
             ay0 + j * seg_y, ay0 + j * seg_y + window_size * seg_y)
            for i in range(steps) for j in range(steps)]


def inside(window: Window, xy: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside the window (edges included)."""
    x0, x1, y0, y1 = window
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
