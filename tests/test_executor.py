"""Executors behind one interface: results in item order, a failing task reported (never dropped), Ray on a local
cluster (skipped only when Ray is not installed) giving the same search as the process pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autogets.cli import main
from autogets.errors import ConfigError, ExecutorError
from autogets.executor import LocalExecutor, SerialExecutor, make_executor


def scaled(state, item):
    if item == "boom":
        raise ValueError(f"cannot scale {item}")
    return state["factor"] * item


def test_optional_backends_are_never_imported_unless_asked():
    code = ("import sys, autogets, autogets.cli, autogets.executor, autogets.classifiers, autogets.serving, "
            "autogets.export; print(sorted({'ray', 'catboost'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("make", [SerialExecutor, lambda: LocalExecutor(workers=2)])
def test_failing_task_is_reported_with_its_item(make):
    with make() as ex:
        ex.start({"factor": 3})
        assert ex.map(scaled, [1, 2, 3, 4, 5]) == [3, 6, 9, 12, 15]
        with pytest.raises(ExecutorError, match=r"scaled\('boom'\) failed: ValueError: cannot scale boom"):
            ex.map(scaled, [1, "boom", 3])


def test_ray_address_needs_the_ray_executor():
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("local", address="auto")


def test_executor_comes_from_the_environment_and_ray_address_disturbs_no_other(monkeypatch, workspace, capsys):
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    assert isinstance(make_executor("serial"), SerialExecutor)
    monkeypatch.setenv("AUTOGETS_EXECUTOR", "threads")
    assert main(["search", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--workspace",
                 str(workspace)]) == 2
    assert capsys.readouterr().err.strip() == ("autogets: error: unknown executor 'threads'; choose local, serial "
                                               "or ray")
    assert not workspace.exists()


ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # ours, not a running one
    yield
    ray.shutdown()


def test_ray_maps_in_item_order_and_puts_the_state_once(local_ray, monkeypatch):
    from autogets.executor import RayExecutor

    puts = []
    real_put = ray.put
    monkeypatch.setattr(ray, "put", lambda value, **kw: puts.append(value) or real_put(value, **kw))
    ex = RayExecutor()
    ex.start({"factor": 2})
    items = list(range(40))
    assert ex.map(scaled, items) == [2 * i for i in items]
    assert ex.map(scaled, items[:3]) == [0, 2, 4]
    assert puts == [{"factor": 2}]  # one object-store copy for every task of the search
    assert ex.workers == 2
    ex.close()
    assert ray.is_initialized()  # the executor did not start this Ray, so it leaves it running


def test_ray_reports_a_failing_task(local_ray):
    from autogets.executor import RayExecutor

    with RayExecutor() as ex:
        ex.start({"factor": 2})
        with pytest.raises(ExecutorError, match=r"ray executor: scaled\('boom'\) failed: ValueError: cannot scale"):
            ex.map(scaled, [1, 2, "boom", 4])


def test_ray_retries_a_task_whose_worker_died(local_ray, tmp_path):
    from autogets.executor import RayExecutor

    marker = str(tmp_path / "died-once")

    def dies_once(state, item):
        if item == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-task
        return state + item

    with RayExecutor(max_retries=2) as ex:
        ex.start(100)
        assert ex.map(dies_once, [1, 2, 3, 4]) == [101, 102, 103, 104]
    assert os.path.exists(marker)


def test_search_on_ray_finds_the_same_best_as_local(local_ray, trec6_slice, workspace, capsys):
    results = {}
    for executor in ("local", "ray"):
        code = main(["search", "--data", str(trec6_slice), "--class", "ABBR", "--strategy", "ga", "--budget", "30",
                     "--generator", "eda", "--n", "2", "--search-seed", "7", "--executor", executor,
                     "--workspace", str(workspace), "--json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        results[executor] = json.loads(captured.out)
    local, on_ray = results["local"], results["ray"]
    assert on_ray["best"] == local["best"] and on_ray["best_so_far"] == local["best_so_far"]
    assert on_ray["test"]["gain"] == local["test"]["gain"]


def test_search_bench_on_ray_beside_local(local_ray, workspace, tmp_path, capsys):
    """`bench search --executor ray` (issue 15): the same candidates timed on the process pool and on Ray."""
    out_dir = tmp_path / "results"
    code = main(["bench", "search", "--evaluations", "12", "--executor", "local", "--executor", "ray", "--fitness",
                 "validation", "--workspace", str(workspace), "--out", str(out_dir)])
    assert code == 0, capsys.readouterr().err
    (path,) = out_dir.glob("*-search-local-ray.json")
    rows = {r["executor"]: r for r in json.loads(path.read_text())["rows"]}
    assert set(rows) == {"local", "ray"} and rows["ray"]["workers"] == 2
    assert rows["ray"]["evaluations"] == rows["local"]["evaluations"] == 12
    assert rows["ray"]["sw_one_pair"]["windows_evaluated"] == rows["local"]["sw_one_pair"]["windows_evaluated"]
    assert rows["ray"]["estimate"]["overhead_seconds_per_evaluation"] >= 0


def _plus(state: int, item: int) -> int:
    return state + item


def test_one_ray_search_ending_does_not_stop_another_searchs_ray():
    """Issue 22 item 2: the first RayExecutor of a process owned ``ray.shutdown()``, so a run finishing its search
    killed another run's search in the same bot process. Ray's lifetime is the process's."""
    pytest.importorskip("ray")
    from autogets.executor import RayExecutor

    first, second = RayExecutor(workers=1), RayExecutor(workers=1)
    first.start(10)
    second.start(20)
    assert first.map(_plus, [1, 2]) == [11, 12]
    first.close()
    assert second.map(_plus, [1, 2]) == [21, 22]   # failed: "a Ray object whose owner is unknown"
    second.close()
    third = RayExecutor(workers=1)                  # a later search joins the same Ray
    third.start(30)
    assert third.map(_plus, [1]) == [31]
    third.close()
