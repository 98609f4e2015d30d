"""Labelled text data: loading (CSV, JSONL, Parquet, bundled sets), validation, stratified 64/16/20 split.

Method Part A §1: normalise whitespace, drop exact duplicate texts first (and count them), then a stratified
train / validation / test split with a seed. Every example keeps a stable integer ``id``: its 0-based row number
in the source file (or the value of ``id_col`` when given).

Limits: a data file larger than ``AUTOGETS_MAX_DATA_MB`` (default :data:`MAX_DATA_MB`, in MB of 10^6 bytes) is
refused before a byte of it is read, and a text longer than :data:`MAX_TEXT_CHARS` characters is refused with its
rows named (such a "text" is a whole document or a broken quote that swallowed the rest of the file).

External tests: labelled texts of a data set's classes from elsewhere, to measure a gain on more examples than a
rare class's test split holds (banking_dev brings one: :func:`external_test`; a user's file:
:func:`load_external_test`). Texts that also occur in the data set are dropped (:func:`drop_overlap`).
Sources and licenses of the bundled files: ``autogets/datasets/README.md``.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from autogets.errors import DataError
from autogets.identity import DatasetId, fingerprint
from autogets.textfmt import one_line, visible_controls

MIN_CLASS_SIZE = 5
"""Fewest examples a class needs so that each of train, validation and test gets at least one."""

MAX_DATA_MB = 200.0
"""Largest data file read by default, in MB (10^6 bytes); ``AUTOGETS_MAX_DATA_MB`` changes it."""

MAX_TEXT_CHARS = 100_000
"""Longest text accepted, in characters (after whitespace is normalised)."""

BUNDLED: dict[str, str] = {
    "trec6": "TREC-6 question classification (Li & Roth 2002): 5,381 questions, 6 coarse classes",
    "sms_spam": "UCI SMS Spam Collection subset: 4,512 messages, ham / spam",
    "banking_dev": "BANKING77 subset (Casanueva et al. 2020): 2,566 customer messages, 24 banking intents, 5 rare "
                   "(20-35 examples); external test of 40 per intent",
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
    "banking_dev": {
        "activate_my_card": "customer messages asking how to activate a new bank card",
        "card_delivery_estimate": "customer messages asking how long a new card takes to arrive",
        "card_payment_fee_charged": "customer messages about an unexpected fee charged on a card payment",
        "cash_withdrawal_charge": "customer messages about a fee charged for withdrawing cash",
        "change_pin": "customer messages asking how to change the card's PIN",
        "compromised_card": "customer messages worried that their card was compromised or used for fraud",
        "disposable_card_limits": "customer messages asking about the limits of disposable virtual cards",
        "exchange_charge": "customer messages about fees charged for currency exchange",
        "exchange_rate": "customer messages asking what exchange rate is used or how it is set",
        "get_disposable_virtual_card": "customer messages asking how to get a disposable virtual card",
        "lost_or_stolen_phone": "customer messages reporting a lost or stolen phone with the banking app",
        "pending_cash_withdrawal": "customer messages about a cash withdrawal still shown as pending",
        "pending_top_up": "customer messages about a top-up still shown as pending",
        "pending_transfer": "customer messages about a transfer still shown as pending",
        "top_up_by_card_charge": "customer messages about a fee charged for topping up by card",
        "top_up_by_cash_or_cheque": "customer messages asking how to top up with cash or a cheque",
        "top_up_failed": "customer messages reporting that a top-up failed or was declined",
        "top_up_limits": "customer messages asking how much or how often they can top up",
        "topping_up_by_card": "customer messages asking how to top up the account with a card",
        "transfer_timing": "customer messages asking how long a transfer takes to arrive",
        "verify_my_identity": "customer messages asking how to verify their identity",
        "virtual_card_not_working": "customer messages reporting that a virtual card does not work",
        "visa_or_mastercard": "customer messages asking whether the card is Visa or Mastercard",
        "wrong_exchange_rate_for_cash_withdrawal": "customer messages saying the wrong exchange rate was applied to a "
                                                   "cash withdrawal",
    },
}
"""Short class descriptions of the bundled data sets, used in generation prompts."""

EXTERNAL_TESTS: dict[str, str] = {"banking_dev": "banking_dev_test.csv"}
"""Bundled external test files: labelled texts of a bundled data set's classes drawn from elsewhere (no split of the
data set sees them). Not data sets of their own: :func:`external_test` reads them."""

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Dataset:
    """A validated labelled data set: ``frame`` has columns ``id`` (int), ``text`` (str), ``label`` (str)."""

    name: str
    frame: pd.DataFrame
    source: str
    duplicates_dropped: int = 0
    classes_dropped: dict[str, int] = field(default_factory=dict)
    conflicting_duplicates: int = 0
    """Of ``duplicates_dropped``, the rows whose label differed from the first occurrence's (which is kept)."""
    case_variants: tuple[tuple[str, ...], ...] = ()
    """Groups of classes whose names differ only in case ("ABBR", "Abbr"): kept apart, but likely one class."""

    @property
    def classes(self) -> list[str]:
        return sorted(self.frame["label"].unique())

    @cached_property
    def fingerprint(self) -> str:
        """The content fingerprint (:func:`autogets.identity.fingerprint` of the loaded, cleaned (label, text)
        pairs): two files with the same labelled texts have the same one, wherever they are and whatever their
        row order."""
        return fingerprint(zip(self.frame["label"], self.frame["text"], strict=True))

    @property
    def identity(self) -> DatasetId:
        """Name plus content fingerprint: what the workspace keys this data set's models, reviews, knowledge map
        and runs by."""
        return DatasetId(self.name, self.fingerprint)

    def note(self) -> str:
        """What loading dropped, in words ("" when nothing): duplicates (those labelled differently counted apart)
        and classes dropped by ``--min-class-size``."""
        parts = []
        if self.duplicates_dropped:
            part = f"{self.duplicates_dropped} duplicate texts dropped"
            if self.conflicting_duplicates:
                part += (f", {self.conflicting_duplicates} of them labelled differently from their first occurrence "
                         "(the first label kept)")
            parts.append(part)
        if self.classes_dropped:
            parts.append("classes dropped: " + ", ".join(f"{c} {n}" for c, n in self.classes_dropped.items()))
        return "; ".join(parts)

    def case_warning(self) -> str:
        """One line naming the classes that differ only in case ("" when none)."""
        if not self.case_variants:
            return ""
        groups = "; ".join(" and ".join(repr(c) for c in group) for group in self.case_variants)
        return (f"labels that differ only in case are separate classes: {groups}; make them the same in the file "
                "if they are one class")

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
    return _package_file(f"{name}.csv")


@cache
def bundled_dataset(name: str) -> Dataset:
    """Bundled data set ``name`` as shipped, loaded once per process (do not change its frame)."""
    return load_dataset(name)


def bundled_identity(name: str) -> DatasetId:
    """The identity of bundled data set ``name`` as shipped."""
    return bundled_dataset(name).identity


def is_bundled_source(name: str, source: str) -> bool:
    """Whether a data set called ``name`` was read from the bundled file of that name (not a file of the same
    name elsewhere)."""
    return name in BUNDLED and Path(source).resolve() == bundled_path(name).resolve()


def _package_file(filename: str) -> Path:
    return Path(str(resources.files("autogets.datasets").joinpath(filename)))


def read_table(path: Path) -> pd.DataFrame:
    """The raw table of a CSV, JSONL or Parquet file (UTF-8); a one-line DataError if unreadable.

    The format goes by suffix: ``.parquet``/``.pq`` Parquet, ``.jsonl``/``.ndjson`` JSON lines, ``.json`` JSON,
    ``.tsv``/``.tab`` tab-separated, anything else delimited text whose separator (comma, tab, semicolon or pipe) is
    sniffed from its first lines. A file that is something else — a spreadsheet, an archive, UTF-16 text — is
    named for what it is (:func:`_foreign_format`)."""
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
    foreign = _foreign_format(path, suffix)
    if foreign:
        raise DataError(f"{path}: looks like {foreign}")
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
        raise DataError(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as "
                        "UTF-8") from None
    sep = ","
    try:
        if suffix in {".jsonl", ".ndjson", ".json"}:
            return pd.read_json(io.StringIO(text), lines=suffix != ".json", dtype=False)
        sep = "\t" if suffix in {".tsv", ".tab"} else sniff_separator(text)
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fields = _FIELDS_ERROR.search(first)
        if fields:
            name = "tab" if sep == "\t" else repr(sep)
            expected, line, saw = fields.groups()
            raise DataError(f"{path}: cannot parse: line {line} has {saw} fields, the header {expected} (separator "
                            f"{name}); put texts containing {name} in double quotes") from None
        raise DataError(f"{path}: cannot parse ({first})") from None


SEPARATORS = ",\t;|"
"""Separators sniffed in delimited text files, the first preferred on a tie."""

SNIFF_CHARS = 65_536
"""At most this many characters of a file are sniffed for its separator."""

_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")

_SAVE_AS = "save it as CSV, JSONL or Parquet"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", f"an Excel 97-2003 workbook (xls); {_SAVE_AS}"),
    (b"\x1f\x8b", "a gzip-compressed file; unpack it first (gunzip)"),
    (b"BZh", "a bzip2-compressed file; unpack it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file; unpack it first (unxz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; unpack it first"),
    (b"%PDF", f"a PDF document; {_SAVE_AS}"),
    (b"SQLite format 3\x00", f"an SQLite database; export the table {_SAVE_AS.removeprefix('save it ')}"),
    (b"\xff\xfe", "UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8"),
)
_SPREADSHEET_SUFFIXES = {".xlsx": "an Excel workbook (xlsx)", ".xlsm": "an Excel workbook (xlsm)",
                         ".xls": "an Excel 97-2003 workbook (xls)", ".ods": "an OpenDocument spreadsheet (ods)",
                         ".numbers": "a Numbers spreadsheet"}


def _foreign_format(path: Path, suffix: str) -> str:
    """What the file is when it is not CSV, JSON(L) or Parquet text, going by its first bytes (then its suffix),
    with what to do about it; "" when it may be data this module reads."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(b"PAR1"):
        return "" if suffix in {".parquet", ".pq"} else "a Parquet file; name it .parquet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_format(path, suffix)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            if magic.startswith(b"\xd0\xcf") and suffix in {".doc", ".ppt"}:
                return f"an old Microsoft Office document ({suffix[1:]}); {_SAVE_AS}"
            return what
    if suffix in _SPREADSHEET_SUFFIXES:
        return f"{_SPREADSHEET_SUFFIXES[suffix]}, by its name; {_SAVE_AS}"
    return ""


def _zip_format(path: Path, suffix: str) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, ValueError):
        names, mimetype = [], ""
    if any(n.startswith("xl/") for n in names) or (not names and suffix in {".xlsx", ".xlsm"}):
        return f"an Excel workbook ({suffix[1:] if suffix in {'.xlsx', '.xlsm'} else 'xlsx'}); {_SAVE_AS}"
    if "spreadsheet" in mimetype or (not names and suffix == ".ods"):
        return f"an OpenDocument spreadsheet (ods); {_SAVE_AS}"
    if any(n.startswith("word/") for n in names) or "opendocument.text" in mimetype:
        return f"a word-processor document; {_SAVE_AS}"
    return "a zip archive; unpack it first and give the data file"


def sniff_separator(text: str, lines: int = 20) -> str:
    """The separator of delimited ``text``: :class:`csv.Sniffer` on its first ``lines`` lines among
    :data:`SEPARATORS`, kept only if it splits the header into at least two columns; else a comma."""
    import csv

    head = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in head:
        head = head[:head.rfind("\n")]  # no cut last line
    sample = "\n".join(head.splitlines()[:lines])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","
    if sep == ",":
        return sep
    header = next(csv.reader(io.StringIO(sample), delimiter=sep), [])
    return sep if len(header) >= 2 else ","


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


def column_names(frame: pd.DataFrame, limit: int = 10) -> str:
    """The first ``limit`` column names of ``frame`` for a one-line error: control characters (a newline in a quoted
    header, a terminal escape) made visible, each name cut to 40 characters."""
    return ", ".join(one_line(visible_controls(c, keep=""), 40) for c in frame.columns[:limit])


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
    Duplicate texts keep their first row and label (those labelled differently are counted apart,
    :attr:`Dataset.conflicting_duplicates`); labels differing only in case stay separate classes, named in
    :attr:`Dataset.case_variants` (the CLI warns).
    """
    if (name is None) == (path is None):
        raise DataError("give exactly one of a bundled data set name (--dataset) or a file (--data)")
    file = bundled_path(name) if name is not None else Path(path)
    raw = read_table(file)
    if raw.empty or len(raw.columns) == 0:
        raise DataError(f"{file}: file has no rows")
    for col, flag in ((text_col, "--text-col"), (label_col, "--label-col")):
        if col not in raw.columns:
            cols = column_names(raw)
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
    first_label = frame.groupby("text", sort=False)["label"].transform("first")
    repeated = frame["text"].duplicated(keep="first")
    conflicting = int((repeated & (frame["label"] != first_label)).sum())
    frame = frame[~repeated].reset_index(drop=True)
    duplicates = before - len(frame)

    counts = frame["label"].value_counts()
    dropped: dict[str, int] = {}
    if min_class_size is not None:
        small = counts[counts < min_class_size]
        dropped = {str(c): int(n) for c, n in sorted(small.items())}
        frame = frame[~frame["label"].isin(small.index)].reset_index(drop=True)
        counts = frame["label"].value_counts()
    too_small = counts[counts < MIN_CLASS_SIZE]
    if len(too_small):
        cls, n = str(too_small.index[0]), int(too_small.iloc[0])
        raise DataError(f"class {cls!r} has {n} examples, fewer than the {MIN_CLASS_SIZE} a 64/16/20 split needs; "
                        f"drop such classes with --min-class-size {MIN_CLASS_SIZE}")
    if frame["label"].nunique() < 2:
        found = frame["label"].nunique()
        why = ""
        if dropped:
            shown = ", ".join(f"{c} {n}" for c, n in list(dropped.items())[:10]) + (", ..." if len(dropped) > 10
                                                                                     else "")
            of = f"all {len(dropped)}" if not found else f"{len(dropped)} of {len(dropped) + found}"
            why = f": --min-class-size {min_class_size} dropped {of} classes ({shown}); lower it"
        raise DataError(f"{file}: need at least 2 classes, found {found}{why}")
    by_case: dict[str, list[str]] = {}
    for cls in sorted(frame["label"].unique()):
        by_case.setdefault(cls.casefold(), []).append(cls)
    return Dataset(name=name or file.stem, frame=frame, source=str(file), duplicates_dropped=duplicates,
                   classes_dropped=dropped, conflicting_duplicates=conflicting,
                   case_variants=tuple(tuple(g) for g in by_case.values() if len(g) > 1))


def external_test(name: str) -> pd.DataFrame | None:
    """The bundled external test of bundled data set ``name`` (columns ``text``, ``label``; texts normalised as
    :func:`load_dataset` normalises them, exact duplicates dropped), or None when it has none."""
    if name not in EXTERNAL_TESTS:
        return None
    return _external_frame(_package_file(EXTERNAL_TESTS[name]), CLASS_DESCRIPTIONS.get(name), "text", "label")


def load_external_test(path: str | Path, classes: Sequence[str], text_col: str = "text",
                       label_col: str = "label") -> pd.DataFrame:
    """A user's external test file (CSV, JSONL or Parquet) for a data set with ``classes``: columns ``text``,
    ``label``, texts normalised, exact duplicates dropped. A one-line DataError for an unreadable file, a missing
    column, an empty text or label, or a label that is not one of ``classes``."""
    return _external_frame(Path(path), classes, text_col, label_col)


def _external_frame(file: Path, classes: Sequence[str] | None, text_col: str, label_col: str) -> pd.DataFrame:
    raw = read_table(file)
    if raw.empty or len(raw.columns) == 0:
        raise DataError(f"external test {file}: file has no rows")
    for col in (text_col, label_col):
        if col not in raw.columns:
            cols = column_names(raw)
            raise DataError(f"external test {file}: no column {col!r} (columns: {cols})")
    raw = raw.reset_index(drop=True)
    labels = raw[label_col].map(lambda v: "" if pd.isna(v) else str(v).strip())
    texts = raw[text_col].map(lambda t: "" if pd.isna(t) else normalise_text(str(t)))
    for bad, what in ((labels == "", f"no label in {label_col!r}"), (texts == "", f"an empty text in {text_col!r}"),
                      (texts.str.len() > MAX_TEXT_CHARS, f"a text longer than {MAX_TEXT_CHARS:,} characters")):
        if bad.any():
            raise DataError(f"external test {file}: {int(bad.sum())} rows have {what} (data rows {_rows(bad)})")
    if classes is not None:
        unknown = sorted(set(labels) - set(classes))
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise DataError(f"external test {file}: {len(unknown)} labels are not classes of the data set: {shown}")
    frame = pd.DataFrame({"text": texts, "label": labels})
    return frame.drop_duplicates(subset="text", keep="first").reset_index(drop=True)


def drop_overlap(external: pd.DataFrame, dataset: Dataset) -> tuple[pd.DataFrame, int]:
    """``external`` without the texts that also occur in ``dataset`` (so in a train, validation or test split of
    it, whatever the seed), and how many were dropped: an external test must not overlap the training data."""
    seen = external["text"].isin(set(dataset.frame["text"]))
    return external[~seen].reset_index(drop=True), int(seen.sum())


def split_dataset(dataset: Dataset, *, seed: int = 42, test_size: float = 0.2, validation_size: float = 0.2) -> Split:
    """Stratified split: ``test_size`` of all rows to test, then ``validation_size`` of the rest to validation.

    The defaults give the method's 64 / 16 / 20 split. The same seed always gives the same split. Every class (of
    at least :data:`MIN_CLASS_SIZE` rows) gets at least one row in each of train, validation and test: a part gets
    at least one row per class (many small classes: 10 × 5 rows make a validation part of 10, not 8), and a class
    that stratified rounding left out of a part gets one row moved there from the part holding most of it. A split
    that already had both is exactly the plain stratified one.
    """
    frame = dataset.frame.reset_index(drop=True)
    n_classes = frame["label"].nunique()
    rest, test = train_test_split(frame, test_size=_part_size(len(frame), test_size, n_classes),
                                  stratify=frame["label"], random_state=seed)
    train, validation = train_test_split(rest, test_size=_part_size(len(rest), validation_size, n_classes),
                                         stratify=rest["label"], random_state=seed)
    train, validation, test = _every_class_in_every_part([train, validation, test], seed)
    return Split(
        train=train.sort_values("id").reset_index(drop=True),
        validation=validation.sort_values("id").reset_index(drop=True),
        test=test.sort_values("id").reset_index(drop=True),
        seed=seed,
    )


def _part_size(n_rows: int, share: float, n_classes: int) -> int:
    """Rows of a part that takes ``share`` of ``n_rows``: scikit-learn's own count (the ceiling), but at least one
    per class. Given as this integer, scikit-learn splits exactly as it would for ``share``."""
    return max(math.ceil(share * n_rows), n_classes)


def _every_class_in_every_part(parts: list[pd.DataFrame], seed: int) -> list[pd.DataFrame]:
    """``parts`` with each class present in each: a row of a missing class moves from the part holding most of
    that class (a row chosen with ``seed``)."""
    rng = np.random.default_rng(seed)
    classes = sorted(set().union(*(set(p["label"]) for p in parts)))
    for cls in classes:
        for k in range(len(parts)):
            if (parts[k]["label"] == cls).any():
                continue
            donor = max(range(len(parts)), key=lambda j: ((parts[j]["label"] == cls).sum(), -j))
            rows = parts[donor].index[parts[donor]["label"] == cls]
            if len(rows) < 2:
                raise DataError(f"class {cls!r} has too few examples for a train, validation and test row each")
            moved = rows[int(rng.integers(len(rows)))]
            parts[k] = pd.concat([parts[k], parts[donor].loc[[moved]]])
            parts[donor] = parts[donor].drop(index=moved)
    return parts
