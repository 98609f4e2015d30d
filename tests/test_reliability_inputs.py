"""Bad input everywhere (issue 16): malformed CSV / JSONL / Parquet, huge lines, a file over the size limit, random
bytes (hypothesis) → one line, exit 2, nothing written; and an LLM that fails, answers garbage or goes down in the
middle of generation → the run stops cleanly and resumably, the texts generated so far stay in the cache, and a
resume once the server is back asks it only for the missing examples. (The command grammar's property tests:
tests/test_agent_requests.py; per-request LLM faults: tests/test_generator_openai.py.)"""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.api import ListNotifier
from agent.context import AgentContext
from agent.service import Agent
from autogets import steps
from autogets.cli import main
from autogets.config import LLMSettings
from autogets.data import MAX_TEXT_CHARS, load_dataset
from autogets.errors import DataError
from autogets.workspace import Workspace
from tests.conftest import tiny_rows
from tests.fakes.openai_server import fake_openai_server
from tests.test_reliability_crash import paraphrase

pytestmark = pytest.mark.reliability

def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


GOOD = "text,label\n" + "".join(f"sample {c} number {i},{c}\n" for c in "abc" for i in range(8))

BAD_FILES = {
    "unbalanced quotes": ("data.csv", 'text,label\n"an unterminated quote,a\nsecond row,b\n', "cannot parse"),
    "jsonl broken line": ("data.jsonl", '{"text": "one", "label": "a"}\n{"text": "two", "label":\n',
                          "cannot parse"),
    "not parquet": ("data.parquet", b"PAR1 this is not a parquet file at all", "cannot read Parquet"),
    "binary garbage": ("data.csv", bytes(range(256)) * 4, "not valid UTF-8"),
    "empty": ("data.csv", b"", "file is empty"),
    "huge csv line": ("data.csv", "text,label\n" + "x" * 300_000 + ",a\n" + GOOD.split("\n", 1)[1],
                      f"1 rows have a text longer than {MAX_TEXT_CHARS:,} characters"),
    "huge jsonl line": ("data.jsonl", json.dumps({"text": "word " * 50_000, "label": "a"}) + "\n" + "".join(
        json.dumps({"text": f"sample {c} {i}", "label": c}) + "\n" for c in "abc" for i in range(8)),
                        "longer than 100,000 characters"),
    "no label column": ("data.csv", GOOD.replace("label", "category"), "no column 'label'"),
    # issue 23 item 10: files that are not CSV are named for what they are
    "excel workbook": ("base.xlsx", _zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}),
                       "base.xlsx: looks like an Excel workbook (xlsx); save it as CSV, JSONL or Parquet"),
    "excel workbook named csv": ("data.csv", _zip({"xl/workbook.xml": "<workbook/>"}),
                                 "data.csv: looks like an Excel workbook (xlsx); save it as CSV"),
    "old excel workbook": ("base.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
                           "base.xls: looks like an Excel 97-2003 workbook (xls); save it as CSV"),
    "opendocument spreadsheet": ("base.ods", _zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"}),
                                 "base.ods: looks like an OpenDocument spreadsheet (ods); save it as CSV"),
    "zip archive": ("data.csv", _zip({"data.csv": GOOD}), "data.csv: looks like a zip archive; unpack it"),
    "gzip": ("data.csv", gzip.compress(GOOD.encode()), "data.csv: looks like a gzip-compressed file; unpack it"),
    "utf-16": ("data.csv", GOOD.encode("utf-16"), "data.csv: looks like UTF-16 text; save it as UTF-8"),
    "cp1252": ("data.csv", GOOD.replace("sample a number 3", "sample a \u2026 3").encode("cp1252"),
               "not valid UTF-8 (byte 0x85 at offset 80); save it as UTF-8"),
    "row with an unquoted separator": ("data.csv", GOOD.replace("sample b number 2,b", "sample b, number 2,b"),
                                       "cannot parse: line 12 has 3 fields, the header 2 (separator ','); put texts "
                                       "containing ',' in double quotes"),
}


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["improve", "diagnose"])
def test_bad_files_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, case, command):
    name, content, expected = BAD_FILES[case]
    path = _write(tmp_path, name, content)
    ws = tmp_path / "ws"
    args = [command, "--data", str(path), "--workspace", str(ws)]
    if command == "improve":
        args += ["--class", "a", "--generator", "eda"]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogets: error: ") and expected in lines[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not ws.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, "big.csv", GOOD * 40)               # about 9 kB
    monkeypatch.setenv("AUTOGETS_MAX_DATA_MB", "0.005")
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read"))
    assert main(["improve", "--data", str(path), "--class", "a", "--generator", "eda",
                 "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"autogets: error: {path}: 0.0 MB is over the 0.005 MB limit for data files")
    assert "AUTOGETS_MAX_DATA_MB" in err and len(err.splitlines()) == 1 and not (tmp_path / "ws").exists()
    monkeypatch.setenv("AUTOGETS_MAX_DATA_MB", "lots")
    with pytest.raises(DataError, match="AUTOGETS_MAX_DATA_MB must be a positive number of MB, got 'lots'"):
        load_dataset(path=path)


def test_the_default_size_limit_is_documented_and_generous():
    from autogets.data import MAX_DATA_MB, max_data_mb

    assert max_data_mb({}) == MAX_DATA_MB == 200 and max_data_mb({"AUTOGETS_MAX_DATA_MB": "1.5"}) == 1.5
    assert "AUTOGETS_MAX_DATA_MB=200" in (Path(__file__).parents[1] / "deploy" / ".env.example").read_text()


@pytest.mark.parametrize("case", ["unbalanced quotes", "not parquet", "huge csv line"])
def test_a_chat_request_naming_a_bad_file_is_answered_not_started(tmp_path, monkeypatch, case):
    name, content, expected = BAD_FILES[case]
    _write(tmp_path, name, content)
    agent = Agent(AgentContext(workspace=tmp_path / "ws", generator="eda", executor="serial",
                               data_dirs=(tmp_path,)))   # the data folder of chat requests (AUTOGETS_DATA_DIRS)
    turn = agent.ask("t:bad", f"improve a on {name}", user="alice")
    assert turn.status == "answer" and turn.run_id is None and expected in turn.text
    assert str(tmp_path) not in turn.text                         # no server paths in chat
    assert not (tmp_path / "ws" / "autogets.db").exists()
    agent.close()


_SOUP = st.text(alphabet=st.sampled_from(list('ab,"\n\r{}[]:\\ \t\x00é')), max_size=400)
_ROWS = st.lists(st.tuples(st.sampled_from(["x y", "", '"', "a,b", "z\n", "\x00", "w" * 50, "1"]),
                           st.sampled_from(["a", "b", "c", "", '"', "1.5"])), max_size=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=600), _SOUP, _SOUP.map(lambda s: "text,label\n" + s),
                         _ROWS.map(lambda rows: "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows)),
                         _ROWS.map(lambda rows: "".join(json.dumps({"text": t, "label": lab}) + "\n"
                                                        for t, lab in rows))),
       suffix=st.sampled_from([".csv", ".jsonl", ".json", ".parquet"]))
def test_any_bytes_load_or_fail_with_a_data_error(tmp_path, content, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    try:
        ds = load_dataset(path=path)
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    assert len(ds.classes) >= 2 and (ds.frame["text"].str.len() > 0).all()


@pytest.mark.parametrize("header", ['"\n"\r:', '"a\nb",label\nx,y\n', '"\x1b[31m",label\nx,y\n'])
def test_a_column_name_with_a_newline_or_escape_is_named_on_one_line(tmp_path, header):
    """Found by the fuzz test above: a quoted header holding a newline made the "no column" error two lines."""
    path = tmp_path / "odd.csv"
    path.write_text(header, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_dataset(path=path)
    message = str(err.value)
    assert "no column 'text'" in message and "\n" not in message and "\x1b" not in message
    assert main(["diagnose", "--data", str(path), "--workspace", str(tmp_path / "ws")]) == 2


# --- the LLM fails during generation ---------------------------------------------------------------------------------

def _agent(ws: Path, base_url: str) -> tuple[Agent, ListNotifier]:
    notifier = ListNotifier()
    return Agent(AgentContext(workspace=ws, generator="openai", budget=8, n_per_example=2, max_sources=20,
                              executor="serial", notifier=notifier, progress_interval=0.0,
                              llm=LLMSettings(base_url=base_url, model="fake-model"))), notifier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def quick_retries(monkeypatch):
    import openai

    monkeypatch.setattr(openai._base_client, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.setattr(openai._base_client, "MAX_RETRY_DELAY", 0.05)


@pytest.mark.parametrize("failure", ["500", "garbage", "down"])
def test_an_llm_failing_mid_run_stops_it_resumably_and_a_resume_generates_only_the_missing(tmp_path, quick_retries,
                                                                                            failure):
    ws, port, served = tmp_path / "ws", _free_port(), 5
    broken = threading.Event()

    def script(body: dict, index: int) -> str:
        if index < served and not broken.is_set():
            return paraphrase(body, index)
        broken.set()
        return "500:5" if failure in ("500", "down") else "garbage"

    with fake_openai_server(script=script, port=port) as server:
        if failure == "down":   # the server process goes away: connections are refused from then on
            threading.Thread(target=lambda: broken.wait(30) and server.stop(), daemon=True).start()
        agent, notifier = _agent(ws, server.base_url)
        turn = agent.ask("t:llm", "improve ABBR on trec6", user="alice")
    assert turn.status == "running", turn.text
    assert turn.text.startswith("The run stopped: ") and "source examples failed to generate" in turn.text
    assert "Say resume in this thread" in turn.text and "\n" not in turn.text
    w = Workspace(ws)
    run_id = w.db().execute("SELECT id FROM runs").fetchone()[0]
    assert steps.run_row(w, run_id)["status"] == "running"      # not failed: resumable
    assert steps.step_result(w, run_id, "generate:0") is None
    examples = w.db().execute("SELECT count(DISTINCT source_hash) FROM generations").fetchone()[0]
    assert 1 <= examples < 20 and w.db()["generations"].count == 2 * examples    # the partial cache is kept
    assert "failed" not in [k for k, _ in notifier.sent]

    with fake_openai_server(script=paraphrase, port=port) as back:   # the server is back, at the same address
        resumed = agent.ask("t:llm", "resume", user="alice")
        assert resumed.status == "review" and resumed.run_id == run_id
        assert len(back.chat_requests) == 20 - examples              # only the missing examples
    gen = steps.step_result(w, run_id, "generate:0")
    assert gen["from_cache"] == examples and gen["generated_now"] == 20 - examples
    agent.close()


def test_an_llm_down_from_the_start_stops_the_run_with_one_sentence_and_nothing_cached(tmp_path, quick_retries):
    ws, port = tmp_path / "ws", _free_port()
    agent, _ = _agent(ws, f"http://127.0.0.1:{port}/v1")
    turn = agent.ask("t:down", "improve ABBR on trec6", user="alice")
    assert turn.status == "running" and "all 20 examples failed to generate" in turn.text
    assert "APIConnectionError" in turn.text and Workspace(ws).db()["generations"].count == 0
    with fake_openai_server(script=paraphrase, port=port) as server:
        assert agent.resume(turn.thread_id).status == "review" and len(server.chat_requests) == 20
    agent.close()


def test_the_cli_improve_with_the_llm_down_is_one_line_exit_2(tmp_path, capsys, monkeypatch, quick_retries):
    monkeypatch.setenv("AUTOGETS_LLM_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    ws = tmp_path / "ws"
    code = main(["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "openai", "--n", "1",
                 "--max-sources", "4", "--budget", "2", "--executor", "serial", "--workspace", str(ws), "--json"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "all 4 examples failed to generate" in err[0] and "run it again" in err[0]
    row = Workspace(ws).db().execute("SELECT status, result FROM runs").fetchone()
    assert row[0] == "failed" and "failed to generate" in json.loads(row[1])["error"]


# --- issue 23 part 2: tiny data sets, many small classes, files that are not CSV ----------------------------------

def _one_error_line(captured) -> str:
    """The single ``autogets: error: …`` line of a failed command (no traceback, no blank line, nothing on stdout)."""
    assert captured.out == "" and "Traceback" not in captured.err, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogets: error: "), captured.err
    return lines[0]


def test_a_24_row_data_set_is_improved_end_to_end(tmp_path, capsys):
    """Item 8: 24 rows leave 19 train + validation rows, fewer than PCA's 20 components."""
    path = _write(tmp_path, "tiny.csv", "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in tiny_rows()))
    code = main(["improve", "--data", str(path), "--class", "a", "--generator", "eda", "--n", "2", "--budget", "4",
                 "--executor", "serial", "--json", "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["class"] == "a" and report["test"]["support"] >= 1


def test_the_pca_view_has_as_many_components_as_the_data_allow():
    from autogets.search.representation import pca_coordinates

    texts = [f"word{i} common thing{i % 3}" for i in range(9)]
    assert pca_coordinates(texts, texts[:4]).shape == (4, 8)                       # rows − 1
    many = [f"w{i} x{i} y{i} z{i}" for i in range(40)]
    assert pca_coordinates(many, many[:3]).shape == (3, 20)                        # at most 20
    few_words = ["alpha beta", "beta alpha gamma", "gamma alpha", "alpha alpha beta"]
    assert pca_coordinates(few_words, few_words).shape[1] == 2                     # features − 1 (sparse PCA)
    with pytest.raises(DataError, match="too small for a search: 3 train .* 2 distinct words allow 1 PCA component"
                                         r"\(s\), and a search needs at least 2 \(one PCA pair\)") as info:
        pca_coordinates(["alpha beta", "beta alpha", "alpha alpha"], ["alpha"])
    assert "\n" not in str(info.value)


def test_ten_classes_of_five_rows_are_diagnosed(tmp_path, capsys):
    """Item 9: 10 × 5 rows pass the loader; the validation split must still hold every class."""
    rows = [(f"topic{c} word{c} sample {i} extra{c}{i}", f"k{c}") for c in range(10) for i in range(5)]
    path = _write(tmp_path, "ten.csv", "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    code = main(["diagnose", "--data", str(path), "--json", "--workspace", str(tmp_path / "ws")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["sizes"] == {"train": 30, "validation": 10, "test": 10}


@pytest.mark.parametrize("command", ["improve", "search"])
def test_an_unknown_class_is_one_line_with_no_blank_line_before_it(tmp_path, capsys, command):
    """Item 11: the progress display opened before the class check printed an empty line first."""
    path = _write(tmp_path, "tiny.csv", "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in tiny_rows()))
    code = main([command, "--data", str(path), "--class", "nope", "--generator", "eda", "--executor", "serial",
                 "--workspace", str(tmp_path / "ws")])
    assert code == 2
    assert _one_error_line(capsys.readouterr()) == "autogets: error: unknown class 'nope'; classes: a, b, c"


def test_case_variants_and_conflicting_duplicates_are_told(tmp_path, capsys):
    """Item 11: labels differing only in case: one warning line on stderr naming them; duplicate texts with another
    label: counted apart in the loader's note."""
    rows = [*tiny_rows(), *((f"abbr {i}", "ABBR") for i in range(5)), *((f"Abbr x {i}", "Abbr") for i in range(5)),
            (tiny_rows()[0][0], "b"), (tiny_rows()[1][0], "a")]
    path = _write(tmp_path, "cased.csv", "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    assert main(["diagnose", "--data", str(path), "--workspace", str(tmp_path / "ws")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("autogets: warning: labels that differ only in case are separate classes: 'ABBR' and "
                            "'Abbr'; make them the same in the file if they are one class\n")
    assert ("2 duplicate texts dropped, 1 of them labelled differently from their first occurrence (the first label "
            "kept)") in captured.out


@pytest.mark.parametrize("texts", [[""], ["fine", "   "]])
def test_predict_refuses_an_empty_text(tmp_path, capsys, texts):
    args = ["predict", "--dataset", "trec6", "--workspace", str(tmp_path / "ws")]
    for t in texts:
        args += ["--text", t]
    assert main(args) == 2
    assert _one_error_line(capsys.readouterr()) == (f"autogets: error: --text {len(texts)} is empty; give a text to "
                                                     "label")
    assert not (tmp_path / "ws").exists()
