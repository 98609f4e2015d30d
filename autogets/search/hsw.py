"""Hierarchical Sliding Window (method Part B §4.3): per PCA pair, level 0 slides 4-of-8-segment windows over the
area (25), level 1 slides 2-of-4 inside each best level-0 window (9 each), level 2 the 4 quadrants of each best
level-1 window. "Best" = maximal objective value among siblings of one parent on validation; all ties are kept and
expanded. Duplicate windows at a level are skipped; duplicate selections come from the cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from autogets.search.base import SearchResult, WindowChoice, result_of
from autogets.search.evaluator import Evaluation, Evaluator
from autogets.search.representation import ClassView
from autogets.search.windows import Window, inside, sliding_windows, topic_min_max


def best_ties(scored: list[tuple[Window, Evaluation]]) -> list[Window]:
    """All windows whose evaluation's primary objective value equals the best one."""
    if not scored:
        return []
    top = max(e.key[0] for _, e in scored)
    return [w for w, e in scored if e.key[0] == top]


@dataclass
class HierarchicalSlidingWindow:
    num_segments: list[int] = field(default_factory=lambda: [8, 4, 2])
    window_sizes: list[int] = field(default_factory=lambda: [4, 2, 1])
    max_pairs: int | None = None
    name: str = "hsw"

    def search(self, view: ClassView, evaluator: Evaluator) -> SearchResult:
        windows: dict[frozenset[int], WindowChoice] = {}
        for pair in view.pairs()[: self.max_pairs]:
            if evaluator.exhausted:
                break
            xy = view.xy(pair)
            parents: list[Window] = [topic_min_max(xy)]
            for level, (segments, size) in enumerate(zip(self.num_segments, self.window_sizes, strict=True)):
                seen: set[Window] = set()
                groups: list[list[tuple[Window, frozenset[int]]]] = []
                for parent in parents:
                    group = []
                    for w in sliding_windows(parent, segments, size):
                        key = tuple(round(v, 12) for v in w)
                        if key in seen:
                            continue
                        seen.add(key)
                        mask = inside(w, xy)
                        if mask.any():
                            selection = frozenset(int(i) for i in view.pool_ids[mask])
                            windows.setdefault(evaluator.normalise(selection), WindowChoice(pair, w, level))
                            group.append((w, selection))
                    groups.append(group)
                flat = [s for g in groups for _, s in g]
                results = evaluator.evaluate(flat)
                by_sel = dict(zip(flat, results, strict=True))
                parents = []
                for group in groups:
                    scored = [(w, by_sel[s]) for w, s in group if by_sel[s] is not None]
                    parents.extend(best_ties(scored))
                if evaluator.exhausted or not parents:
                    break
        return result_of(self.name, evaluator, windows)
