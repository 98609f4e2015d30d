"""Benchmarks (``autogets bench``): measured numbers written to ``benchmarks/results/<date>-<name>.json``.

Performance and quality targets live here, never in timed tests: ``speed`` (generation, candidate evaluation,
memory) and ``quality`` (the paper's TREC-6 tables over seeds, with baselines and paired tests).
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

from autogets.workspace import write_json_atomic


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident set size of this process, MiB; with ``children``, of the largest waited-for child instead."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def result_path(name: str, folder: Path = Path("benchmarks/results"), suffix: str = ".json") -> Path:
    return folder / f"{time.strftime('%Y-%m-%d')}-{name}{suffix}"


def write_result(name: str, payload: dict, folder: Path = Path("benchmarks/results")) -> Path:
    path = result_path(name, folder)
    write_json_atomic(path, {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             "machine": machine(), **payload})
    return path
