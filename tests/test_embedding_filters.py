"""Filters that sentence embeddings make possible (issue 21): label consistency by nearest real neighbours and
near-duplicates by cosine. Off by default; ``bench quality --consistency/--cosine`` measures them."""

from __future__ import annotations

from autogets.data import load_dataset, split_dataset
from autogets.generators.base import Synthetic
from autogets.pipeline import TextFilter


def synthetic(texts, label="ABBR"):
    return [Synthetic(1, i, t, label, "test", "m", "v") for i, t in enumerate(texts)]


def test_a_text_whose_nearest_real_texts_are_of_another_class_is_dropped(trec6_slice):
    split = split_dataset(load_dataset(None, path=trec6_slice), seed=42)
    texts = ["What does the abbreviation NATO stand for ?",
             "Who was the first president of the United States ?",
             "What is the capital city of France ?"]
    kept, dropped = TextFilter(consistency=0.4).apply(split, synthetic(texts), "ABBR")
    assert [s.text for s in kept] == texts[:1]
    assert dropped["inconsistent"] == 2


def test_near_duplicates_by_cosine_keep_the_first(trec6_slice):
    split = split_dataset(load_dataset(None, path=trec6_slice), seed=42)
    texts = ["What does NASA stand for ?", "What does NASA stand for?", "What is the abbreviation for ounce ?"]
    kept, dropped = TextFilter(cosine=0.95).apply(split, synthetic(texts), "ABBR")
    assert [s.text for s in kept] == [texts[0], texts[2]]
    assert dropped["cosine_duplicate"] == 1
    assert TextFilter(cosine=1.01).apply(split, synthetic(texts), "ABBR")[0] == synthetic(texts)
