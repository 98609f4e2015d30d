"""Persistent generation cache and the cached, cleaned generation loop (method Part A §6).

Raw outputs are stored in the workspace table ``generations`` keyed by (generator, model, prompt key, source text
hash, sample index) as soon as each source example's outputs arrive, so a re-run for the same class calls the
model for nothing already stored, and an interrupted run (Ctrl-C) keeps what it generated. Cleaning runs on read:
it depends on the data set (copies of any real text are dropped), the cache does not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlite_utils

from autogets.errors import GenerationError
from autogets.generators.base import Contrast, Generator, SourceExample, Synthetic
from autogets.generators.cleaning import Cleaner, CleanReport, strip_decoration
from autogets.workspace import now_iso


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def generation_scope(generator: Generator, class_name: str, context: Sequence[str] = (),
                     contrast: Contrast | None = None, affinity: Mapping[str, tuple[int, ...]] | None = None) -> str:
    """What else the prompt saw: the class name and, for a generator that shows real examples as few-shot context
    (``uses_context``, True unless a generator says otherwise), a hash of that context in order, and the contrast
    block (its template, class and texts) when one is shown. Part of the cache key, so texts generated with one
    split's training texts in the prompt are never served to another split (where those texts may be test
    examples): no test text leaks into generation. With ``affinity`` (the context's cv folds, which decide the
    shots) the folds are part of it too, in the context's order."""
    uses_context = getattr(generator, "uses_context", True)
    parts = [class_name, *(context if uses_context else ())]
    if affinity and getattr(generator, "uses_affinity", False):
        parts += ["\x01folds", *(",".join(map(str, affinity.get(t, ()))) for t in context)]
    if contrast is not None and _takes_contrast(generator):
        template = getattr(getattr(generator, "contrast_prompt", None), "id", "")
        parts += ["\x01contrast", template, contrast.class_name, *contrast.texts]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:10]


def _takes_contrast(generator: Generator) -> bool:
    return bool(getattr(generator, "uses_contrast", False))


def prompt_key(generator: Generator, variant: str = "", scope: str = "") -> str:
    """The prompt part of the cache key: the generator's prompt version, plus a regeneration variant (a round and
    a hint such as "shorter") when one is asked for, so a regeneration never returns the texts it replaces, plus
    the :func:`generation_scope` (class and few-shot context) when given."""
    key = generator.prompt_version
    if variant:
        key += f"~{hashlib.sha256(variant.encode('utf-8')).hexdigest()[:8]}"
    return f"{key}@{scope}" if scope else key


class GenerationCache:
    """The ``generations`` table of a workspace database."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.table = db["generations"]

    def lookup(self, generator: Generator, examples: Sequence[SourceExample], n: int, variant: str = "",
               scope: str = "") -> dict[tuple[str, int], tuple[str, tuple[str, ...]]]:
        """Cached raw texts for these examples' first ``n`` samples with the hashes of the real texts their prompt
        showed, keyed by (source hash, sample index)."""
        hashes = list({text_hash(e.text) for e in examples})
        found: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT source_hash, sample_index, raw, shown FROM generations WHERE generator = ? AND model = ? "
                f"AND prompt_version = ? AND sample_index < ? AND source_hash IN ({marks})",
                [generator.name, generator.model, prompt_key(generator, variant, scope), n, *chunk]).fetchall()
            found.update({(h, i): (raw, tuple(json.loads(shown)) if shown else ()) for h, i, raw, shown in rows})
        return found

    def store(self, generator: Generator, example: SourceExample, texts: Sequence[str], variant: str = "",
              scope: str = "", shown: Sequence[str] = ()) -> None:
        """Store one example's raw texts; ``shown``: the real texts (other than the source) its prompt showed,
        recorded as hashes."""
        h, prompt = text_hash(example.text), prompt_key(generator, variant, scope)
        seen = json.dumps([text_hash(t) for t in shown]) if shown else None
        rows = [{"generator": generator.name, "model": generator.model, "prompt_version": prompt,
                 "source_hash": h, "sample_index": i, "source_id": example.id, "label": example.label,
                 "text": strip_decoration(raw), "raw": raw, "status": "ok", "created_at": now_iso(), "shown": seen}
                for i, raw in enumerate(texts)]
        with self.db.conn:
            self.table.insert_all(rows, ignore=True)

    def count(self, generator: str | None = None, label: str | None = None) -> int:
        where, args = [], []
        if generator:
            where.append("generator = ?")
            args.append(generator)
        if label:
            where.append("label = ?")
            args.append(label)
        sql = "SELECT count(*) FROM generations" + (" WHERE " + " AND ".join(where) if where else "")
        return int(self.db.execute(sql, args).fetchone()[0])


@dataclass
class GenerationResult:
    """Cleaned synthetic texts of one class plus what it took to get them."""

    synthetic: list[Synthetic]
    report: CleanReport
    generated: int = 0
    cached: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def by_source(self) -> dict[int, list[Synthetic]]:
        out: dict[int, list[Synthetic]] = {}
        for s in self.synthetic:
            out.setdefault(s.source_id, []).append(s)
        return out

    def summary(self) -> dict:
        return {"kept": len(self.synthetic), "generated_now": self.generated, "from_cache": self.cached,
                "failed_examples": len(self.failed), "cleaning": self.report.to_dict(),
                "sources_with_texts": len(self.by_source())}


def synthesize(generator: Generator, examples: Sequence[SourceExample], *, n_per_example: int, class_name: str,
               cache: GenerationCache, real_texts: Sequence[str] = (), context: Sequence[str] = (), seed: int = 0,
               batch_size: int = 16, progress: Callable[[int, int], None] | None = None, variant: str = "",
               hint: str = "", contrast: Contrast | None = None,
               affinity: Mapping[str, tuple[int, ...]] | None = None) -> GenerationResult:
    """``n_per_example`` cleaned synthetic texts per example (fewer where cleaning drops some), cached.

    ``variant`` names a regeneration (part of the cache key); ``hint`` (e.g. "shorter") is passed to the generator.
    The class and (for a generator that uses it) the ``context`` are part of the key too (:func:`generation_scope`),
    and so is ``contrast`` for a generator that takes one (others ignore it). ``affinity`` (each context text's cv
    folds, :func:`autogets.folds.shot_affinity`) lets a few-shot generator draw shots that share the source's
    folds; every text records what its prompt showed (``Synthetic.shown``).

    Only examples missing from the cache reach the model, in batches of ``batch_size``; each batch's outputs are
    stored before the next one starts. Raises :class:`GenerationError` if every example that needed the model failed.
    """
    if n_per_example < 1:
        raise GenerationError("n_per_example must be at least 1")
    affinity = affinity if getattr(generator, "uses_affinity", False) else None
    scope = generation_scope(generator, class_name, context, contrast, affinity)
    stored = cache.lookup(generator, examples, n_per_example, variant, scope)
    missing = [e for e in examples if any((text_hash(e.text), i) not in stored for i in range(n_per_example))]
    cached = len(examples) - len(missing)
    failed: list[tuple[int, str]] = []
    done = cached
    if progress:
        progress(done, len(examples))
    for start in range(0, len(missing), batch_size):
        batch = missing[start:start + batch_size]
        extra: dict = {"hint": hint} if hint else {}
        if contrast is not None and _takes_contrast(generator):
            extra["contrast"] = contrast
        if affinity:
            extra["affinity"] = affinity
        for out in generator.generate(batch, n_per_example, class_name=class_name, context=context,
                                      seed=seed + start, **extra):
            if out.error is not None:
                failed.append((out.example.id, out.error))
            else:
                cache.store(generator, out.example, out.texts, variant, scope, out.shown)
            done += 1
            if progress:
                progress(done, len(examples))
    if missing and len(failed) == len(missing):
        raise GenerationError(f"all {len(missing)} examples failed to generate (first error: {failed[0][1]})")
    stored = cache.lookup(generator, examples, n_per_example, variant, scope)
    cleaner = Cleaner(real_texts=real_texts)
    synthetic = []
    for example in examples:
        for i in range(n_per_example):
            found = stored.get((text_hash(example.text), i))
            if found is None:
                continue
            raw, shown = found
            text = cleaner.clean(raw, example.text)
            if text is not None:
                synthetic.append(Synthetic(source_id=example.id, sample_index=i, text=text, label=example.label,
                                           generator=generator.name, model=generator.model,
                                           prompt_version=prompt_key(generator, variant, scope), shown=shown))
    return GenerationResult(synthetic=synthetic, report=cleaner.report, generated=len(missing) - len(failed),
                            cached=cached, failed=failed)
