from __future__ import annotations

import numpy as np
import pytest

from autogets.errors import GenerationError
from autogets.generators import make_generator
from autogets.generators.base import RawOutput, SourceExample
from autogets.generators.cache import GenerationCache, synthesize
from autogets.generators.cleaning import CHATTER_RULES, Cleaner, chatter_rule, strip_decoration
from autogets.generators.eda import EDAGenerator, augment
from autogets.workspace import Workspace

EXAMPLES = [SourceExample(id=i, text=t, label="ABBR") for i, t in enumerate([
    "What does NASA stand for ?",
    "What is the abbreviation for the United Nations ?",
    "What does CPU mean in computing ?",
])]


class CountingGenerator:
    """A real generator (deterministic text transformations) that counts model calls; fails on request."""

    name, model, prompt_version = "counting", "count-1", "v1"

    def __init__(self, fail_ids=()):
        self.calls = 0
        self.fail_ids = set(fail_ids)

    def generate(self, examples, n_per_example, *, class_name, context=(), seed=0):
        for ex in examples:
            self.calls += 1
            if ex.id in self.fail_ids:
                yield RawOutput(example=ex, error="boom")
            else:
                yield RawOutput(example=ex, texts=tuple(f"{i + 1}. Variant {i} of: {ex.text}" for i in
                                                        range(n_per_example)))


@pytest.fixture
def cache(workspace):
    return GenerationCache(Workspace(workspace).db())


def test_second_call_is_served_from_cache_with_zero_model_calls(cache):
    gen = CountingGenerator()
    first = synthesize(gen, EXAMPLES, n_per_example=3, class_name="ABBR", cache=cache)
    assert gen.calls == 3 and first.generated == 3 and len(first.synthetic) == 9
    again = CountingGenerator()
    second = synthesize(again, EXAMPLES, n_per_example=3, class_name="ABBR", cache=cache)
    assert again.calls == 0 and second.cached == 3
    assert [s.text for s in second.synthetic] == [s.text for s in first.synthetic]
    assert first.synthetic[0].text == "Variant 0 of: What does NASA stand for ?"  # numbering stripped


@pytest.mark.reliability
def test_more_samples_later_only_asks_for_missing_examples(cache):
    synthesize(CountingGenerator(), EXAMPLES[:2], n_per_example=2, class_name="ABBR", cache=cache)
    gen = CountingGenerator()
    result = synthesize(gen, EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)
    assert gen.calls == 1 and result.cached == 2


@pytest.mark.reliability
def test_failed_example_is_recorded_and_skipped_but_all_failed_raises(cache):
    result = synthesize(CountingGenerator(fail_ids={1}), EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)
    assert result.failed == [(1, "boom")]
    assert {s.source_id for s in result.synthetic} == {0, 2}
    with pytest.raises(GenerationError, match="all 1 examples failed"):
        synthesize(CountingGenerator(fail_ids={1}), EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)


@pytest.mark.reliability
def test_interrupt_keeps_what_was_generated(cache):
    class Interrupting(CountingGenerator):
        def generate(self, examples, n_per_example, **kw):
            for out in super().generate(examples, n_per_example, **kw):
                if self.calls == 3:  # Ctrl-C while the third example is being generated
                    raise KeyboardInterrupt
                yield out

    with pytest.raises(KeyboardInterrupt):
        synthesize(Interrupting(), EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache, batch_size=1)
    assert cache.count("counting") == 4  # the two finished examples × 2 samples
    gen = CountingGenerator()
    synthesize(gen, EXAMPLES, n_per_example=2, class_name="ABBR", cache=cache)
    assert gen.calls == 1


@pytest.mark.parametrize("raw, expected", [
    ('1. "What does IBM stand for ?"', "What does IBM stand for ?"),
    ("- Assistant: What is BMW short for?\nsecond line", "What is BMW short for?"),
    ("Question: What's the acronym for NATO?", "What's the acronym for NATO?"),
    ("   \n  ", ""),
])
def test_strip_decoration(raw, expected):
    assert strip_decoration(raw) == expected


def test_cleaner_counts_drops_by_reason():
    cleaner = Cleaner(real_texts=["What does FBI stand for ?"])
    source = "What does NASA stand for ?"
    outputs = ["", "Hi", "What does NASA stand for?", "what does FBI stand for", "What is the UN short for ?",
               "1) What is the UN short for ?", " ".join(["word"] * 60)]
    kept = [cleaner.clean(o, source) for o in outputs]
    assert [k for k in kept if k] == ["What is the UN short for ?"]
    assert cleaner.report.dropped == {"empty": 1, "too_short": 1, "copy_of_source": 1, "copy_of_real_text": 1,
                                      "duplicate": 1, "too_long": 1}


CHATTER = [
    # seen from SmolLM2 behind llama.cpp (the issue)
    "I'm ready to assist. What is it?",
    "Here is a different example that belongs to the same class:",
    "Here's a revised version of the original example:",
    # other assistants' habits
    "Sure! Here are 5 examples:",
    "Certainly, here is a new question:",
    "1. Here is a paraphrased version of the question:",
    "Here's another one:",
    "Here you go:",
    "Of course!",
    "New example:",
    '"Example 3:"',
    "As an AI language model, I don't have personal opinions...",
    "Sorry, but I can't help with that.",
    "I'd be happy to help you with that.",
    "I’m happy to help! Here’s a new one:",
    "Please provide the example you would like me to rewrite.",
    "I hope this helps!",
    "Let me know if you need more",
    "Is there anything else I can help you with?",
    "Would you like me to generate more examples?",
    "Note: the new question keeps the same structure.",
    "This example belongs to the same class as the original.",
    "I rephrased the question while keeping its meaning.",
]

KEPT = [
    "What is the abbreviation for 'as soon as possible'?",
    "Here is where NASA launched from?",
    "What does AI stand for?",
    "How do I let my manager know if I need more time off?",
    "Who wrote the song 'I hope this helps'?",
    "As an example of a mammal, what does a whale eat?",
    "Sure Start is a programme for which age group?",
    "Note the date: when did the Berlin Wall fall?",
    "I can't access my email since the update, what should I do?",
    "I kept getting an error when I logged in this morning.",
    "The new version of Windows keeps crashing on start-up.",
    "Please tell me the capital of Australia.",
]


@pytest.mark.parametrize("raw", CHATTER)
def test_chatter_is_dropped_as_chatter(raw):
    cleaner = Cleaner()
    assert cleaner.clean(raw, "What does NASA stand for ?") is None
    assert cleaner.report.dropped == {"chatter": 1}


@pytest.mark.parametrize("text", KEPT)
def test_real_texts_with_chatter_words_are_kept(text):
    assert Cleaner().clean(text, "What does NASA stand for ?") == text


def test_every_chatter_rule_is_named_once_and_exercised():
    names = [rule.name for rule in CHATTER_RULES]
    assert len(set(names)) == len(names)
    assert {chatter_rule(line) for line in CHATTER} == set(names)
    assert not any(chatter_rule(text) for text in KEPT)


@pytest.mark.parametrize("raw, expected", [
    ("Here is a new example:\nWhat does NASA stand for?", "What does NASA stand for?"),
    ("Sure! Here are 5 examples:\n\n1. What is IBM short for?\n2. What does BMW mean?", "What is IBM short for?"),
    ("New example:\n\"What is the full form of UNESCO?\"", "What is the full form of UNESCO?"),
    ("Question:\nWhat does CPU mean?", "What does CPU mean?"),
    ("Here is a new example: What does NASA stand for?", "What does NASA stand for?"),
    ("Here’s a new question: “What is the full form of AIDS?”", "What is the full form of AIDS?"),
    ("Sure! What does LASER stand for?", "What does LASER stand for?"),
    ("I hope this helps!\nLet me know if you need more", ""),
])
def test_strip_decoration_skips_chatter_lines(raw, expected):
    assert strip_decoration(raw) == expected


def test_chatter_is_its_own_drop_reason_and_applies_to_cached_raw_texts(cache):
    class Chatty(CountingGenerator):
        def generate(self, examples, n_per_example, **kw):
            for ex in examples:
                yield RawOutput(example=ex, texts=("Here you go:", f"Here is a new example:\nWhy is {ex.id} odd ?",
                                                   "Here you go:")[:n_per_example])

    result = synthesize(Chatty(), EXAMPLES, n_per_example=3, class_name="ABBR", cache=cache)
    assert result.report.to_dict() == {"kept": 3, "dropped": {"chatter": 6}, "total": 9}
    assert [s.text for s in result.synthetic] == ["Why is 0 odd ?", "Why is 1 odd ?", "Why is 2 odd ?"]


def test_eda_is_seeded_and_changes_text():
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    text = "What is the name of the largest city in the country ?"
    a, b = augment(text, 5, rng=rng_a), augment(text, 5, rng=rng_b)
    assert a == b and len(a) == 5
    assert any(x != text for x in a)
    outs = list(EDAGenerator().generate(EXAMPLES, 4, class_name="ABBR", seed=3))
    again = list(EDAGenerator().generate(EXAMPLES, 4, class_name="ABBR", seed=3))
    assert [o.texts for o in outs] == [o.texts for o in again]


def test_make_generator_unknown():
    with pytest.raises(GenerationError, match="unknown generator 'gpt'"):
        make_generator("gpt")


def test_prompt_fields_are_part_of_the_cache_key():
    """Texts generated with one class description are never served for a prompt with another."""
    from autogets.generators.embedded import EmbeddedGenerator
    from autogets.generators.openai_compat import OpenAICompatibleGenerator

    plain, trec = EmbeddedGenerator(), EmbeddedGenerator(descriptions={"LOC": "questions asking for a location"})
    assert plain.prompt_version == "fewshot_v2"
    assert trec.prompt_version.startswith("fewshot_v2+") and trec.prompt_version != plain.prompt_version
    assert EmbeddedGenerator(descriptions={"LOC": "questions asking for a location"}).prompt_version == \
        trec.prompt_version
    assert EmbeddedGenerator(n_shots=5).prompt_version != plain.prompt_version
    assert OpenAICompatibleGenerator(description="tickets").prompt_version != OpenAICompatibleGenerator().prompt_version
