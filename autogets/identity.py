"""A data set's identity in a workspace: its name plus a fingerprint of its content (issue 23 item 1).

The name is what a person reads and types (a bundled name, or a data file's stem: ``tickets`` for
``~/a/tickets.csv``); two files of one name in different folders, or a file named like a bundled data set, are
different data sets when their contents differ, and the same one when they hold the same labelled texts. Everything
the workspace keeps per data set — model versions and their lineage, the production pointer, rejected texts, the
knowledge map, the one-run-at-a-time claim — is keyed by :class:`DatasetId`, never by the name alone.

* :func:`fingerprint` is the one function that computes a content fingerprint: sha256 over the sorted
  (label, text) pairs of the loaded, cleaned data set, shown as :data:`FINGERPRINT_CHARS` hex characters.
* :class:`DatasetId` is the one representation: ``(name, fingerprint)``, written ``name@fingerprint``.
  Its :meth:`DatasetId.where` is the one SQL condition for "rows of this data set", :meth:`DatasetId.columns` the
  values a row stores. A ``fingerprint`` of None means "content unknown": rows written before schema version 11
  whose content could not be proved (see ``autogets.workspace._v11``) keep matching by name alone, and a bare name
  typed by a person matches every content of that name.
* Table ``datasets`` remembers each identity a run was made on (classes, source, rows): :func:`remember`,
  :func:`known`; :func:`resolve` turns what a person typed (``tickets``, ``tickets@3fa9c1d2e4b5``, ``trec6``) into
  an identity, refusing a bare name that names several contents.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from autogets.workspace import now_iso

FINGERPRINT_CHARS = 12
"""Hex characters of a fingerprint that are stored and shown (48 bits: no collision among a workspace's data sets)."""

_KEY = re.compile(rf"^(?P<name>.+)@(?P<fp>[0-9a-f]{{{FINGERPRINT_CHARS}}})$")


def fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """The content fingerprint of a data set given as its (label, text) pairs: order and duplicates of the input
    do not matter (the pairs are sorted), every label and text does. The one authority for it."""
    digest = hashlib.sha256()
    for label, text in sorted((str(lab), str(txt)) for lab, txt in pairs):
        lab, txt = label.encode("utf-8"), text.encode("utf-8")
        digest.update(f"{len(lab)}:{len(txt)}:".encode("ascii") + lab + txt)
    return digest.hexdigest()[:FINGERPRINT_CHARS]


@dataclass(frozen=True)
class DatasetId:
    """A data set's identity: its user-facing ``name`` and its content ``fingerprint`` (None: unknown)."""

    name: str
    fingerprint: str | None = None

    @property
    def key(self) -> str:
        """``name@fingerprint`` (the name alone when the content is unknown): how a person names this identity."""
        return f"{self.name}@{self.fingerprint}" if self.fingerprint else self.name

    def __str__(self) -> str:
        return self.key

    def where(self, prefix: str = "") -> tuple[str, list[Any]]:
        """The SQL condition (and its arguments) selecting the rows of this data set in a table with columns
        ``dataset`` and ``dataset_fp`` (``prefix``: a table alias with its dot, e.g. ``"r."``). Rows whose content
        is unknown (NULL) match by name; an identity whose content is unknown matches every content of its name."""
        if self.fingerprint is None:
            return f"{prefix}dataset = ?", [self.name]
        return (f"{prefix}dataset = ? AND ({prefix}dataset_fp = ? OR {prefix}dataset_fp IS NULL)",
                [self.name, self.fingerprint])

    def columns(self) -> dict[str, str | None]:
        """The values a row of this data set stores (``dataset``, ``dataset_fp``)."""
        return {"dataset": self.name, "dataset_fp": self.fingerprint}

    def matches(self, other: DatasetId) -> bool:
        """Whether ``other`` may be the same data set: the same name, and the same content where both are known."""
        return self.name == other.name and (self.fingerprint is None or other.fingerprint is None
                                            or self.fingerprint == other.fingerprint)


def as_identity(value: DatasetId | str) -> DatasetId:
    """``value`` as an identity: a :class:`DatasetId` as it is; a string ``name@<12 hex>`` split; any other string
    a bare name (content unknown)."""
    if isinstance(value, DatasetId):
        return value
    found = _KEY.match(value)
    return DatasetId(found["name"], found["fp"]) if found else DatasetId(value)


def of_row(row: Any) -> DatasetId:
    """The identity stored in a row (a mapping with ``dataset`` and, from schema version 11, ``dataset_fp``)."""
    return DatasetId(row["dataset"], row["dataset_fp"] if "dataset_fp" in row.keys() else None)


# --- the data sets a workspace has seen ----------------------------------------------------------------------------

@dataclass(frozen=True)
class KnownDataset:
    """A data set the workspace has seen: its identity, classes, source file and number of rows."""

    identity: DatasetId
    classes: tuple[str, ...]
    source: str
    rows: int

    def describe(self) -> str:
        """``tickets@3fa9c1d2e4b5 (from /a/tickets.csv)``."""
        from autogets.data import is_bundled_source

        where = "bundled" if is_bundled_source(self.identity.name, self.source) else f"from {self.source}"
        return f"{self.identity.key} ({where})"


def remember(db: Any, dataset: Any) -> None:
    """Record that the workspace holds ``dataset`` (an :class:`autogets.data.Dataset`): its identity, classes,
    source and size. Once per identity; call inside the transaction that records the run."""
    db["datasets"].insert({"name": dataset.name, "fingerprint": dataset.fingerprint,
                           "classes": json.dumps(list(dataset.classes)), "source": os.path.abspath(dataset.source),
                           "rows": len(dataset.frame), "first_seen": now_iso()}, ignore=True)


def known(db: Any, name: str) -> list[KnownDataset]:
    """The contents the workspace holds under ``name``, oldest first."""
    rows = db.execute("SELECT name, fingerprint, classes, source, rows FROM datasets WHERE name = ? ORDER BY "
                      "first_seen, rowid", [name]).fetchall()
    return [KnownDataset(DatasetId(n, fp), tuple(json.loads(cls)), src, int(size)) for n, fp, cls, src, size in rows]


def others(db: Any, identity: DatasetId) -> list[KnownDataset]:
    """The other contents the workspace holds under ``identity``'s name (for the CLI's note)."""
    return [k for k in known(db, identity.name) if k.identity.fingerprint != identity.fingerprint]


def resolve(db: Any | None, value: DatasetId | str) -> DatasetId:
    """What a person named (``tickets``, ``tickets@3fa9c1d2e4b5``, a bundled name) as an identity: a key with a
    fingerprint as it is; a bundled name its bundled content; another bare name the one content the workspace
    (``db``, None if it has none yet) holds under it, or the bare name if it holds none on record (rows from before
    fingerprints). A name holding several contents is refused with one line listing them."""
    from autogets.errors import DataError

    ident = as_identity(value)
    if ident.fingerprint is not None:
        return ident
    from autogets.data import BUNDLED, bundled_identity

    if ident.name in BUNDLED:
        return bundled_identity(ident.name)
    held = known(db, ident.name) if db is not None else []
    if len(held) > 1:
        listed = ", ".join(k.describe() for k in held)
        raise DataError(f"the workspace holds {len(held)} data sets named {ident.name!r}: {listed}; say which, e.g. "
                        f"--dataset {held[-1].identity.key}")
    return held[0].identity if held else ident

