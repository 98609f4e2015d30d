"""Sliding Window, "Naive-SW" (method Part B §4.2): per PCA pair in lexicographic order, 16 segments, window 4,
step 1 → 13 × 13 = 169 windows; each non-empty window selects the target-class training points inside it (red and
blue). Empty windows are skipped and not charged; repeated selections are served from the cache."""

from __future__ import annotations

from dataclasses import dataclass

from autogets.search.base import SearchResult, WindowChoice, result_of
from autogets.search.evaluator import Evaluator
from autogets.search.representation import ClassView
from autogets.search.windows import inside, sliding_windows, topic_min_max


@dataclass
class SlidingWindow:
    num_segments: int = 16
    window_size: int = 4
    max_pairs: int | None = None
    name: str = "sw"

    def pair_candidates(self, view: ClassView, pair: tuple[int, int]) -> list[tuple[frozenset[int], WindowChoice]]:
        """The non-empty windows of one pair with their selections, in visiting order."""
        xy = view.xy(pair)
        out = []
        for window in sliding_windows(topic_min_max(xy), self.num_segments, self.window_size):
            mask = inside(window, xy)
            if mask.any():
                out.append((frozenset(int(i) for i in view.pool_ids[mask]), WindowChoice(pair, window)))
        return out

    def search(self, view: ClassView, evaluator: Evaluator) -> SearchResult:
        windows: dict[frozenset[int], WindowChoice] = {}
        pairs = view.pairs()[: self.max_pairs]
        for pair in pairs:
            if evaluator.exhausted:
                break
            candidates = self.pair_candidates(view, pair)
            for selection, choice in candidates:
                windows.setdefault(evaluator.normalise(selection), choice)
            evaluator.evaluate([s for s, _ in candidates])
        return result_of(self.name, evaluator, windows)
