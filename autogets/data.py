"""Labelled text data: loading (CSV, JSONL, Parquet, bundled sets), validation, stratified 64/16/20 split.

Method Part A §1: normalise whitespace, drop exact duplicate texts first (and count them), then a stratified
train / validation / test split with a seed. Every example keeps a stable integer ``id``: its 0-based row number
in the source file (or the value of ``id_col`` when given).

Limits: a data file larger than ``AUTOGETS_MAX_DATA_MB`` (default :data:`MAX_DATA_MB`, in MB of 10^6 bytes) is
refused before a byte of it is read, and a text longer than :data:`MAX_TEXT_CHARS` characters is refused with its
rows named (such a "text" is a whole document or a broken quote that swallowed the rest of the file).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from autogets.errors import DataError

MIN_CLASS_SIZE = 5
"""Fewest examples a class needs so that each of train, validation and test gets at least one."""

MAX_DATA_MB = 200.0
"""Largest data file read by default, in MB (10^6 bytes); ``AUTOGETS_MAX_DATA_MB`` changes it."""

MAX_TEXT_CHARS = 100_000
"""Longest text accepted, in characters (after whitespace is normalised)."""

BUNDLED: dict[str, str] = {
    "trec6": "TREC-6 question classification (Li & Roth 2002): 5,381 questions, 6 coarse classes",
    "sms_spam": "UCI SMS Spam Collection subset: 4,512 messages, ham / spam",
}

CLASS_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "trec6": {
        "ABBR": "questions asking what an abbreviation stands for or for the abbreviation of something",
        "DESC": "questions asking for a description, definition, manner or reason",
        "ENTY": "questions asking for an entity such as an animal, colour, food, product, event or term",
        "HUM": "questions asking for a person, a group of people or an organisation",
        "LOC": "questions asking for a location such as a city, country, mountain or state",
        "NUM": "questions asking for a number such as a date, count, distance, price or speed",
    },
    "sms_spam": {"ham": "ordinary personal text messages", "spam": "unsolicited advertising or scam text messages"},
}
"""Short class descriptions of the bundled data sets, used in generation prompts."""

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Dataset:
    """A validated labelled data set: ``frame`` has columns ``id`` (int), ``text`` (str), ``label`` (str)."""

    name: str
    frame: pd.DataFrame
    source: str
    duplicates_dropped: int = 0
    classes_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return sorted(self.frame["label"].unique())

    def class_counts(self) -> dict[str, int]:
        counts = self.frame["label"].value_counts()
        return {c: int(counts[c]) for c in self.classes}


@dataclass(frozen=True)
class Split:
    """Disjoint train / validation / test frames (columns ``id``, ``text``, ``label``)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    seed: int

    @property
    def classes(self) -> list[str]:
        return sorted(self.train["label"].unique())

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def bundled_path(name: str) -> Path:
    """Path of a bundled data set's CSV file."""
    if name not in BUNDLED:
        known = ", ".join(sorted(BUNDLED))
        raise DataError(f"unknown bundled data set {name!r}; known: {known}")
    return Path(str(resources.files("autogets.datasets").joinpath(f"{name}.csv")))


def read_table(path: Path) -> pd.DataFrame:
    """The raw table of a CSV, JSONL or Parquet file (by suffix; UTF-8); a one-line DataError if unreadable."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file")
    limit = max_data_mb()
    size = path.stat().st_size
    if size > limit * 1e6:
        raise DataError(f"{path}: {size / 1e6:,.1f} MB is over the {limit:g} MB limit for data files; use a smaller "
                        "file or raise AUTOGETS_MAX_DATA_MB")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataError(f"{path}: cannot read Parquet ({type(exc).__name__}: {exc})") from None
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        if suffix in {".jsonl", ".ndjson", ".json"}:
            return pd.read_json(io.StringIO(text), lines=suffix != ".json", dtype=False)
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot parse ({first})") from None


def max_data_mb(env: dict[str, str] | None = None) -> float:
    """The data file size limit in MB: ``AUTOGETS_MAX_DATA_MB`` if set (a positive number), else :data:`MAX_DATA_MB`."""
    env = os.environ if env is None else env
    raw = env.get("AUTOGETS_MAX_DATA_MB", "").strip()
    if not raw:
        return MAX_DATA_MB
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise DataError(f"AUTOGETS_MAX_DATA_MB must be a positive number of MB, got {raw[:40]!r}")
    return value


def normalise_text(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


def _rows(mask: pd.Series) -> str:
    rows = [str(i + 1) for i in mask[mask].index[:5]]
    more = "" if mask.sum() <= 5 else ", ..."
    return ", ".join(rows) + more


def load_dataset(
    name: str | None = None,
    *,
    path: str | Path | None = None,
    text_col: str = "text",
    label_col: str = "label",
    id_col: str | None = None,
    min_class_size: int | None = None,
) -> Dataset:
    """Load and validate a labelled data set, either bundled (``name``) or from a file (``path``).

    Raises :class:`DataError` with a one-line message for every problem; nothing is written anywhere.
    ``min_class_size`` drops classes with fewer examples; without it, a class too small to split is an error.
    """
    if (name is None) == (path is None):
        raise DataError("give exactly one of a bundled data set name (--dataset) or a file (--data)")
    file = bundled_path(name) if name is not None else Path(path)
    raw = read_table(file)
    if raw.empty or len(raw.columns) == 0:
        raise DataError(f"{file}: file has no rows")
    for col, flag in ((text_col, "--text-col"), (label_col, "--label-col")):
        if col not in raw.columns:
            cols = ", ".join(map(str, raw.columns[:10]))
            raise DataError(f"{file}: no column {col!r} (columns: {cols}); choose one with {flag}")
    if id_col is not None and id_col not in raw.columns:
        raise DataError(f"{file}: no id column {id_col!r}")
    raw = raw.reset_index(drop=True)

    labels = raw[label_col]
    missing_label = labels.isna() | (labels.astype(str).str.strip() == "")
    if missing_label.any():
        raise DataError(f"{file}: {int(missing_label.sum())} rows have no label in {label_col!r} "
                        f"(data rows {_rows(missing_label)})")
    texts = raw[text_col].map(lambda t: "" if pd.isna(t) else normalise_text(str(t)))
    empty = texts == ""
    if empty.any():
        raise DataError(f"{file}: {int(empty.sum())} rows have an empty text in {text_col!r} "
                        f"(data rows {_rows(empty)})")
    long = texts.str.len() > MAX_TEXT_CHARS
    if long.any():
        raise DataError(f"{file}: {int(long.sum())} rows have a text longer than {MAX_TEXT_CHARS:,} characters in "
                        f"{text_col!r} (data rows {_rows(long)}); an unbalanced quote can swallow the rest of a file")

    ids = raw[id_col] if id_col is not None else pd.Series(range(len(raw)))
    if id_col is not None:
        try:
            ids = ids.astype("int64")
        except (ValueError, TypeError):
            raise DataError(f"{file}: id column {id_col!r} must hold integers") from None
        if ids.duplicated().any():
            raise DataError(f"{file}: id column {id_col!r} has duplicate values")
    frame = pd.DataFrame({"id": ids.astype("int64"), "text": texts, "label": labels.astype(str).str.strip()})
    before = len(frame)
    frame = frame.drop_duplicates(subset="text", keep="first").reset_index(drop=True)
    duplicates = before - len(frame)

    counts = frame["label"].value_counts()
    dropped: dict[str, int] = {}
    if min_class_size is not None:
        small = counts[counts < min_class_size]
        dropped = {str(c): int(n) for c, n in small.items()}
        frame = frame[~frame["label"].isin(small.index)].reset_index(drop=True)
        counts = frame["label"].value_counts()
    too_small = counts[counts < MIN_CLASS_SIZE]
    if len(too_small):
        cls, n = str(too_small.index[0]), int(too_small.iloc[0])
        raise DataError(f"class {cls!r} has {n} examples, fewer than the {MIN_CLASS_SIZE} a 64/16/20 split needs; "
                        f"drop such classes with --min-class-size {MIN_CLASS_SIZE}")
    if frame["label"].nunique() < 2:
        raise DataError(f"{file}: need at least 2 classes, found {frame['label'].nunique()}")
    return Dataset(name=name or file.stem, frame=frame, source=str(file), duplicates_dropped=duplicates,
                   classes_dropped=dropped)


def split_dataset(dataset: Dataset, *, seed: int = 42, test_size: float = 0.2, validation_size: float = 0.2) -> Split:
    """Stratified split: ``test_size`` of all rows to test, then ``validation_size`` of the rest to validation.

    The defaults give the method's 64 / 16 / 20 split. The same seed always gives the same split.
    """
    frame = dataset.frame
    rest, test = train_test_split(frame, test_size=test_size, stratify=frame["label"], random_state=seed)
    train, validation = train_test_split(rest, test_size=validation_size, stratify=rest["label"], random_state=seed)
    return Split(
        train=train.sort_values("id").reset_index(drop=True),
        validation=validation.sort_values("id").reset_index(drop=True),
        test=test.sort_values("id").reset_index(drop=True),
        seed=seed,
    )
