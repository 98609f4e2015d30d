"""What a request may name: the :class:`Catalog` (data sets, their classes and descriptions, registered names, the
data folders) and the lookup of a typed data set name or data file path in it (:func:`_resolve_data`).

Which data files may be read is not decided here: :func:`agent.datafiles.data_file` is the one rule, and
:func:`_resolve_data` asks it for every path. Names with a leading underscore are private to :mod:`agent.requests`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from agent.datafiles import DATA_SUFFIXES, DataFileRefused, DataFolders, data_file
from agent.requests.commands import Clarify
from autogets.data import BUNDLED, CLASS_DESCRIPTIONS, load_dataset
from autogets.errors import AutogetsError


def _bundled_classes(name: str) -> tuple[str, ...]:
    return tuple(load_dataset(name).classes)


class Catalog:
    """What a request may name: data sets (name → classes), their class descriptions, data files in ``data``.

    ``datasets`` values are class sequences or zero-argument callables returning them (loaded on first use and
    cached). ``registered`` adds names that only ``models``, ``rollback`` and ``promote`` accept (data sets known
    to the model registry, e.g. from files). ``data`` says which data files may be named
    (:func:`agent.datafiles.data_file`); ``data_dir`` is a shorthand for one folder; neither: no data files at all.
    A plain ``{name: classes}`` dict works wherever a Catalog is expected.
    """

    def __init__(self, datasets: Mapping[str, Sequence[str] | Callable[[], Sequence[str]]] | None = None, *,
                 descriptions: Mapping[str, Mapping[str, str]] | None = None, data_dir: str | Path | None = None,
                 data: DataFolders | None = None, registered: Iterable[str] = ()):
        self._sources = dict(datasets or {})
        self._classes: dict[str, tuple[str, ...]] = {}
        self._files: dict[tuple[str, int, int], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.descriptions = CLASS_DESCRIPTIONS if descriptions is None else descriptions
        self.data = data if data is not None else DataFolders.of([data_dir] if data_dir is not None else [], None)
        self.registered = tuple(n for n in registered if n not in self._sources)

    @classmethod
    def bundled(cls, *, data: DataFolders | None = None, registered: Iterable[str] = ()) -> Catalog:
        """The bundled data sets of :mod:`autogets.data`, their classes read on first use."""
        return cls({name: partial(_bundled_classes, name) for name in BUNDLED}, data=data, registered=registered)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._sources))

    def classes(self, name: str) -> tuple[str, ...]:
        """Classes of data set ``name`` (KeyError if unknown; AutogetsError/OSError if it cannot be read)."""
        with self._lock:
            if name not in self._classes:
                source = self._sources[name]
                self._classes[name] = tuple(str(c) for c in (source() if callable(source) else source))
            return self._classes[name]

    def file_classes(self, path: Path) -> tuple[str, ...]:
        """Classes of a data file's label column (validated by :func:`autogets.data.load_dataset`)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key not in self._files:
                self._files[key] = tuple(load_dataset(path=path).classes)
            return self._files[key]


def as_catalog(catalog: Catalog | Mapping[str, Sequence[str]]) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else Catalog(catalog)


def _exact(word: str, options: Sequence[str]) -> str | None:
    if word in options:
        return word
    hits = [o for o in options if o.casefold() == word.casefold()]
    return hits[0] if len(hits) == 1 else None


def _is_path(token: str) -> bool:
    return "/" in token or "\\" in token or token.startswith(("~", ".")) or token.casefold().endswith(DATA_SUFFIXES)


@dataclass(frozen=True)
class _Data:
    dataset: str | None
    data_path: str | None
    classes: tuple[str, ...]
    descriptions: Mapping[str, str]


def _resolve_data(token: str, catalog: Catalog) -> _Data | Clarify:
    """A catalog name or a data file the catalog's data folders allow (:func:`agent.datafiles.data_file`)."""
    if _is_path(token):
        try:
            path = data_file(token, catalog.data)
        except DataFileRefused as exc:
            return Clarify(f"{exc}.", ())
        try:
            classes = catalog.file_classes(path)
        except (AutogetsError, OSError) as exc:
            return Clarify(f"{token[:80]} cannot be used: " + str(exc).replace(str(path), token[:80]), ())
        return _Data(None, str(path), classes, {})
    name = _exact(token, catalog.names)
    if name is None:
        return Clarify(_no_data_set(token, catalog.names), ())
    try:
        classes = catalog.classes(name)
    except (AutogetsError, OSError) as exc:
        return Clarify(f"Data set {name} cannot be read: {exc}", ())
    return _Data(name, None, classes, catalog.descriptions.get(name, {}))


def _no_data_set(token: str | None, known: Sequence[str]) -> str:
    listed = ", ".join(known) or "none"
    return f"There is no data set {token[:40]!r}; data sets: {listed}." if token else f"Which data set? {listed}."


def _classes_or_empty(catalog: Catalog, name: str) -> tuple[str, ...]:
    try:
        return catalog.classes(name)
    except (AutogetsError, OSError, KeyError):
        return ()
