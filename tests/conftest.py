"""Shared fixtures. Tests are offline; the bundled TREC-6 copy is the real data set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests whose subject is not the classifier pin TF-IDF linear (issue 21): an embedding of TREC-6 costs 20–60 s on
# this machine. The classifier's own tests ask for auto/minilm explicitly (or delete the variable). Subprocesses
# started by tests inherit it.
os.environ.setdefault("AUTOGETS_CLASSIFIER", "linear")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace path that does not exist yet (commands must create it on first use only)."""
    return tmp_path / "ws"


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write a CSV file from text and return its path."""

    def write(content: str | bytes, name: str = "data.csv") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


def tiny_rows(n_per_class: int = 8, classes: tuple[str, ...] = ("a", "b", "c")) -> list[tuple[str, str]]:
    words = {"a": "apple banana", "b": "car engine", "c": "river lake"}
    return [(f"{words.get(c, c)} sample number {i} {c}", c) for c in classes for i in range(n_per_class)]


@pytest.fixture(scope="session")
def trec6_slice(tmp_path_factory) -> Path:
    """A CSV of the first 50 TREC-6 questions of each class (300 rows): real data, seconds per job."""
    from autogets.data import load_dataset

    frame = load_dataset("trec6").frame
    path = tmp_path_factory.mktemp("data") / "trec6_slice.csv"
    frame.groupby("label").head(50)[["text", "label"]].to_csv(path, index=False)
    return path


@pytest.fixture
def slack():
    """A fake Slack Web API on 127.0.0.1 (tests/fakes/slack_server.py), for the bot's tests."""
    from tests.fakes.slack_server import fake_slack

    with fake_slack() as fake:
        yield fake


@pytest.fixture
def restore_logging():
    """The root logger's handlers and level as they were (for tests whose code sets up logging)."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level
