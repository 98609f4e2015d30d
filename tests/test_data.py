from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from autogets.data import (
    BUNDLED,
    CLASS_DESCRIPTIONS,
    MIN_CLASS_SIZE,
    bundled_path,
    drop_overlap,
    external_test,
    load_dataset,
    load_external_test,
    normalise_text,
    split_dataset,
)
from autogets.errors import DataError
from tests.conftest import tiny_rows

pytestmark = pytest.mark.reliability  # issue 16: malformed data files

# The bundled copies as committed: sha256 of the exact bytes (CRLF line ends; .gitattributes keeps them unconverted),
# data rows, and rows per class. The paper quotes 5,542 TREC-6 questions with classes of 86 to 1,250; this copy is the
# TREC training set with exact duplicate texts removed: 5,381 (see autogets/data.py BUNDLED).
BUNDLED_FILES = {
    "trec6": ("16ac3e422975c4d45833fdf8934eaf5d3e09db2776cb4177b99215e3fed3d654", 5381,
              {"ABBR": 86, "DESC": 1153, "ENTY": 1245, "HUM": 1215, "LOC": 824, "NUM": 858}),
    "sms_spam": ("6ecab02916960473ca15d594d5dbd5963789fe8539df81f9d2f14bea5ad264c7", 4512, {"ham": 3955, "spam": 557}),
    # BANKING77 training set, 24 intents (autogets/datasets/README.md); 2,567 rows, one exact duplicate (change_pin)
    "banking_dev": ("5f630f4a7ffc3a2efbd83b8dcb59d1353436573e0066ba2184e01dd92bbf8e74", 2566, {
        "activate_my_card": 159, "card_delivery_estimate": 20, "card_payment_fee_charged": 187,
        "cash_withdrawal_charge": 177, "change_pin": 121, "compromised_card": 86, "disposable_card_limits": 25,
        "exchange_charge": 121, "exchange_rate": 112, "get_disposable_virtual_card": 97, "lost_or_stolen_phone": 121,
        "pending_cash_withdrawal": 30, "pending_top_up": 149, "pending_transfer": 148, "top_up_by_card_charge": 114,
        "top_up_by_cash_or_cheque": 114, "top_up_failed": 20, "top_up_limits": 97, "topping_up_by_card": 103,
        "transfer_timing": 128, "verify_my_identity": 104, "virtual_card_not_working": 35, "visa_or_mastercard": 135,
        "wrong_exchange_rate_for_cash_withdrawal": 163}),
}
DUPLICATES = {"banking_dev": 1}
BANKING_TEST_SHA = "e1ebbd87402956f068d81233fe23e0de1241d74b5a0568b3b607d47436529cc8"


@pytest.mark.parametrize("name", sorted(BUNDLED_FILES))
def test_bundled_copy_is_intact(name):
    sha, rows, counts = BUNDLED_FILES[name]
    path = bundled_path(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{path} differs from the committed copy"
    ds = load_dataset(name)
    assert len(ds.frame) == rows and ds.duplicates_dropped == DUPLICATES.get(name, 0)
    assert ds.class_counts() == counts
    assert ds.frame["id"].is_unique


def test_every_bundled_data_set_has_class_descriptions_and_a_license_note():
    assert set(BUNDLED) == set(BUNDLED_FILES) == set(CLASS_DESCRIPTIONS)
    for name in BUNDLED:
        assert set(CLASS_DESCRIPTIONS[name]) == set(load_dataset(name).classes), name
    note = (bundled_path("trec6").parent / "README.md").read_text(encoding="utf-8")
    for name in [*BUNDLED, "banking_dev_test"]:
        assert f"| {name}.csv |" in note
    assert "BANKING77" in note and "Casanueva" in note and "CC BY 4.0" in note


def test_banking_dev_has_24_intents_5_rare():
    ds = load_dataset("banking_dev")
    assert len(ds.classes) == 24
    rare = {c for c, n in ds.class_counts().items() if n <= 35}
    assert rare == {"card_delivery_estimate", "disposable_card_limits", "pending_cash_withdrawal", "top_up_failed",
                    "virtual_card_not_working"}


def test_banking_dev_external_test_has_40_per_intent_minus_overlaps():
    path = bundled_path("banking_dev").parent / "banking_dev_test.csv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == BANKING_TEST_SHA
    ext = external_test("banking_dev")
    assert list(ext.columns) == ["text", "label"]
    counts = ext["label"].value_counts().to_dict()
    assert set(counts) == set(load_dataset("banking_dev").classes)
    # 40 texts per intent; the 2 that also occur in banking_dev.csv were removed before bundling
    assert len(ext) == 24 * 40 - 2 and {c: n for c, n in counts.items() if n != 40} == {
        "change_pin": 39, "compromised_card": 39}
    kept, dropped = drop_overlap(ext, load_dataset("banking_dev"))
    assert dropped == 0 and len(kept) == len(ext)
    assert (ext["text"] == ext["text"].map(normalise_text)).all()
    assert external_test("trec6") is None and external_test("sms_spam") is None


def test_external_test_texts_of_the_data_set_are_dropped_with_a_count(write_csv):
    ds = load_dataset("banking_dev")
    seen = ds.frame.groupby("label").head(1).head(3)  # three texts of the data set, one with extra whitespace
    rows = [("  " + seen["text"].iloc[0].replace(" ", "   ") + " ", seen["label"].iloc[0]),
            *zip(seen["text"].iloc[1:], seen["label"].iloc[1:], strict=True),
            ("A brand new question about my card PIN", "change_pin"),
            ("A brand new question about my card PIN", "change_pin"),   # duplicate in the file: kept once
            ("Where is the card I ordered last week?", "card_delivery_estimate")]
    path = write_csv(pd.DataFrame(rows, columns=["body", "intent"]).to_csv(index=False), name="ext.csv")
    ext = load_external_test(path, ds.classes, text_col="body", label_col="intent")
    assert len(ext) == 5 and list(ext.columns) == ["text", "label"]
    kept, dropped = drop_overlap(ext, ds)
    assert dropped == 3
    assert kept.to_dict("records") == [
        {"text": "A brand new question about my card PIN", "label": "change_pin"},
        {"text": "Where is the card I ordered last week?", "label": "card_delivery_estimate"}]


@pytest.mark.parametrize("content, match", [
    ("text,label\nhello there,not_an_intent\nhi,change_pin\n",
     "external test .*: 1 labels are not classes of the data set: 'not_an_intent'"),
    ("body,label\nhello,change_pin\n", "external test .*: no column 'text' \\(columns: body, label\\)"),
    ("text,intent\nhello,change_pin\n", "no column 'label'"),
    ("text,label\nhello,change_pin\nhi,\n", "1 rows have no label in 'label' \\(data rows 2\\)"),
    ("text,label\n", "external test .*: file has no rows"),
    (b"text,label\ncaf\xff,change_pin\n", "not valid UTF-8"),
])
def test_bad_external_test_file_is_one_line(write_csv, content, match):
    with pytest.raises(DataError, match=match) as info:
        load_external_test(write_csv(content, name="ext.csv"), load_dataset("banking_dev").classes)
    assert "\n" not in str(info.value)


def test_missing_external_test_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_external_test(tmp_path / "nope.csv", ["a", "b"])


def test_normalise_whitespace_and_count_duplicates(write_csv):
    path = write_csv("text,label\n" + "".join(f"t{i},a\n" for i in range(5)) + "  t0 ,a\n"
                     + "".join(f"u {i}\tx,b\n" for i in range(5)) + "u  0 x,b\n")
    ds = load_dataset(path=path)
    assert ds.duplicates_dropped == 2
    assert "u 0 x" in set(ds.frame["text"])
    assert normalise_text(" a \n b\t") == "a b"


def test_ids_are_source_row_numbers(write_csv):
    path = write_csv("text,label\n" + "".join(f"x{i},{'ab'[i % 2]}\n" for i in range(12)))
    ds = load_dataset(path=path)
    assert ds.frame.loc[ds.frame["text"] == "x7", "id"].item() == 7


def test_jsonl_and_parquet_load_with_chosen_columns(tmp_path):
    rows = [{"body": t, "intent": lab} for t, lab in tiny_rows()]
    jl = tmp_path / "d.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows))
    pq = tmp_path / "d.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    a = load_dataset(path=jl, text_col="body", label_col="intent")
    b = load_dataset(path=pq, text_col="body", label_col="intent")
    assert a.class_counts() == b.class_counts() == {"a": 8, "b": 8, "c": 8}


@pytest.mark.parametrize("content, match", [
    ("", "file is empty"),
    ("text,label\n", "no rows"),
    ("body,label\nx,a\n", "no column 'text'.*--text-col"),
    ("text,tag\nx,a\n", "no column 'label'.*--label-col"),
    ("text,label\nx,a\ny,\nz,a\n", "1 rows have no label.*data rows 2"),
    ("text,label\nx,a\n  ,a\n", "empty text.*data rows 2"),
])
def test_bad_files_raise_one_line(write_csv, content, match):
    with pytest.raises(DataError, match=match) as info:
        load_dataset(path=write_csv(content))
    assert "\n" not in str(info.value)


def test_non_utf8_bytes(write_csv):
    with pytest.raises(DataError, match=r"not valid UTF-8 \(byte 0xff"):
        load_dataset(path=write_csv(b"text,label\ncaf\xff,a\n"))


def test_missing_file_and_unknown_bundled(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(path=tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown bundled data set 'nope'; known: banking_dev, sms_spam, trec6"):
        load_dataset("nope")


def test_small_class_is_named_and_can_be_dropped(write_csv):
    rows = tiny_rows() + [("rare one", "rare"), ("rare two", "rare")]
    path = write_csv("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    with pytest.raises(DataError, match="class 'rare' has 2 examples.*--min-class-size 5"):
        load_dataset(path=path)
    ds = load_dataset(path=path, min_class_size=MIN_CLASS_SIZE)
    assert ds.classes_dropped == {"rare": 2}
    assert "rare" not in ds.classes


def test_split_is_stratified_disjoint_and_complete():
    ds = load_dataset("trec6")
    split = split_dataset(ds, seed=42)
    ids = [set(part["id"]) for part in (split.train, split.validation, split.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(ds.frame["id"])
    total = ds.class_counts()
    for part, share in ((split.train, 0.64), (split.validation, 0.16), (split.test, 0.20)):
        counts = part["label"].value_counts()
        for cls, n in total.items():
            assert abs(counts[cls] - share * n) <= 1.5, (cls, counts[cls], share * n)


def test_split_is_deterministic_by_seed():
    ds = load_dataset("trec6")
    a, b, c = split_dataset(ds, seed=7), split_dataset(ds, seed=7), split_dataset(ds, seed=8)
    assert np.array_equal(a.test["id"], b.test["id"])
    assert not np.array_equal(a.test["id"], c.test["id"])


def test_smallest_splittable_class_lands_in_every_part(write_csv):
    rows = tiny_rows(20, ("a", "b")) + [(f"five {i}", "f") for i in range(5)]
    split = split_dataset(load_dataset(path=write_csv("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))))
    for part in (split.train, split.validation, split.test):
        assert (part["label"] == "f").sum() >= 1


def _rows_csv(rows) -> str:
    return "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows)


@pytest.mark.parametrize("shape", [{f"k{c}": 5 for c in range(10)},                       # issue 23 item 9
                                   {**{f"k{c}": 5 for c in range(9)}, "big": 100},
                                   {**{f"k{c}": 5 + c % 3 for c in range(30)}, "big": 40, "mid": 12}])
@pytest.mark.parametrize("seed", [42, 7, 3])
def test_many_small_classes_split_with_every_class_in_every_part(write_csv, shape, seed):
    rows = [(f"w{c} item{i} x{c}{i}", c) for c, n in shape.items() for i in range(n)]
    ds = load_dataset(path=write_csv(_rows_csv(rows)))
    split = split_dataset(ds, seed=seed)
    ids = [set(part["id"]) for part in (split.train, split.validation, split.test)]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set().union(*ids) == set(ds.frame["id"])
    for part in (split.train, split.validation, split.test):
        assert set(part["label"]) == set(shape), sorted(set(shape) - set(part["label"]))
    assert split.sizes()["train"] > split.sizes()["validation"]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_a_split_sklearn_can_make_is_unchanged(name):
    """The per-class guarantee changes no split that already had it: the bundled sets split as before."""
    from sklearn.model_selection import train_test_split

    frame = load_dataset(name).frame
    rest, test = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=42)
    train, _ = train_test_split(rest, test_size=0.2, stratify=rest["label"], random_state=42)
    split = split_dataset(load_dataset(name), seed=42)
    assert sorted(split.test["id"]) == sorted(test["id"]) and sorted(split.train["id"]) == sorted(train["id"])


SEPARATED = [("hello, world; a | b", "a"), ("tab less, text", "a"), ("plain words", "a"), ("x; y, z", "a"),
             ("five words in a row", "a"), ("car, engine; garage", "b"), ("river lake", "b"), ("boat, oar", "b"),
             ("sea | shore", "b"), ("wave, tide; moon", "b")]


@pytest.mark.parametrize("name, sep", [("d.tsv", "\t"), ("d.csv", "\t"), ("d.csv", ";"), ("d.txt", "|"),
                                       ("d.txt", ","), ("data", "\t"), ("data", ";"), ("d.csv", ",")])
def test_tab_semicolon_and_pipe_separated_files_load(write_csv, name, sep):
    """Issue 23 item 10: .tsv is tab-separated; .csv, .txt and no suffix have their separator sniffed. Texts keep
    the other separators (and a comma CSV stays a comma CSV whatever its texts hold)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(SEPARATED)
    ds = load_dataset(path=write_csv(buffer.getvalue(), name=name))
    assert ds.class_counts() == {"a": 5, "b": 5}
    assert list(ds.frame["text"]) == [t for t, _ in SEPARATED]


def test_a_semicolon_file_whose_texts_hold_commas_loads(write_csv):
    """The issue's case: "Expected 1 fields in line 19, saw 2" for a semicolon file with a comma in a text."""
    rows = [(f"question number {i}" + (", with a comma" if i == 17 else ""), "ab"[i % 2]) for i in range(24)]
    ds = load_dataset(path=write_csv("text;label\n" + "".join(f"{t};{lab}\n" for t, lab in rows)))
    assert len(ds.frame) == 24 and "question number 17, with a comma" in set(ds.frame["text"])


def test_labels_differing_only_in_case_are_kept_apart_and_named(write_csv):
    """Issue 23 item 11: "ABBR" and "Abbr" stay two classes (no silent merge), and the loader names them."""
    rows = tiny_rows(6, ("a", "b")) + [(f"abbr {i}", "ABBR") for i in range(5)] + [(f"Abbr x {i}", "Abbr")
                                                                                  for i in range(5)]
    ds = load_dataset(path=write_csv(_rows_csv(rows)))
    assert ds.classes == ["ABBR", "Abbr", "a", "b"]
    assert ds.case_variants == (("ABBR", "Abbr"),)
    assert load_dataset(path=write_csv(_rows_csv(tiny_rows()))).case_variants == ()


def test_duplicate_texts_with_conflicting_labels_are_counted_apart(write_csv):
    rows = tiny_rows(6, ("a", "b")) + [(tiny_rows(6, ("a",))[0][0], "a"),     # a plain duplicate
                                       (tiny_rows(6, ("a",))[1][0], "b"),     # the same text labelled b
                                       (tiny_rows(6, ("b",))[2][0], "a")]     # and labelled a
    ds = load_dataset(path=write_csv(_rows_csv(rows)))
    assert ds.duplicates_dropped == 3 and ds.conflicting_duplicates == 2
    assert ds.class_counts() == {"a": 6, "b": 6}                            # the first label is kept
    assert ds.note() == ("3 duplicate texts dropped, 2 of them labelled differently from their first occurrence "
                         "(the first label kept)")


def test_min_class_size_that_drops_every_class_says_so(write_csv):
    path = write_csv(_rows_csv(tiny_rows(8) + [(f"rare {i}", "rare") for i in range(6)]))
    with pytest.raises(DataError, match=r"need at least 2 classes, found 0: --min-class-size 50 dropped all 4 "
                                        r"classes \(a 8, b 8, c 8, rare 6\); lower it") as info:
        load_dataset(path=path, min_class_size=50)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match=r"found 1: --min-class-size 8 dropped 2 of 3 classes \(b 7, rare 6\)"):
        load_dataset(path=write_csv(_rows_csv(tiny_rows(8, ("a",)) + tiny_rows(7, ("b",))
                                              + [(f"rare {i}", "rare") for i in range(6)])), min_class_size=8)
