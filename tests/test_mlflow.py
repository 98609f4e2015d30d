"""MLflow mirror of the model registry (issue 24 item 1): a real MLflow (sqlite store in a temp folder, and a real
``mlflow server`` on 127.0.0.1), the pyfunc's predictions against ``autogets predict``, an unreachable server whose
work stays pending until ``autogets models sync``. No network beyond 127.0.0.1; MLflow's telemetry off."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install -e '.[mlflow]'); "
                                              "`make test` installs it")

from autogets.cli import main  # noqa: E402
from autogets.mlflow_sync import registered_model_name  # noqa: E402
from autogets.registry import Registry  # noqa: E402
from autogets.workspace import Workspace  # noqa: E402

TEXTS = ["What does NASA stand for?", "Who wrote Hamlet?", "What is the abbreviation for ounce?",
         "How far is the Moon from the Earth?", "Where is the Eiffel Tower?"]
IMPROVE = ["improve", "--dataset", "trec6", "--class", "ABBR", "--generator", "eda", "--budget", "10",
           "--classifier", "linear"]


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # whatever MLflow writes by default (./mlruns, ./mlflow.db) stays in tmp
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlite_uri(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def nothing_in_cwd(tmp_path: Path) -> None:
    """MLflow's defaults were not used: no ./mlruns or ./mlflow.db in the folder the command ran in."""
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


def client(uri: str):
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def only_version(ws: Path):
    (version,) = Registry(Workspace(ws), mlflow_uri=None).list()
    return version


def second_version(ws: Path, first) -> None:
    """Register another version of the same data set (the same file, another recipe): rollback needs two."""
    Registry(Workspace(ws)).register_file(Path(first.artifact), dataset=first.identity,
                                          recipe={**first.recipe, "note": "second"},
                                          metrics_validation=first.metrics_validation,
                                          metrics_test=first.metrics_test,
                                          summary={k: v for k, v in first.summary.items()
                                                   if k not in ("run_id", "mlflow")},
                                          actor="tester")


def check_logged(uri: str, version, *, generator: str = "eda") -> object:
    """The version is in MLflow's registry, its run has the params, metrics and artifacts; returns the MLflow
    model version."""
    mlf = client(uri)
    name = registered_model_name(version.identity)
    assert name == f"autogets-trec6-{version.dataset_fp}"
    record = version.summary["mlflow"]
    assert record["state"] == "synced" and record["registered_model"] == name
    mv = mlf.get_model_version(name, str(record["version"]))
    assert mv.run_id == record["run_id"] and mv.tags["autogets.model_id"] == version.id
    run = mlf.get_run(record["run_id"])
    params, metrics = run.data.params, run.data.metrics
    assert (params["class"], params["generator"], params["classifier"]) == ("ABBR", generator, "linear")
    assert params["dataset"] == version.identity.key and params["goal"] == "cba:ABBR" and params["plan"]
    assert int(params["synthetic_texts"]) == len(version.recipe["synthetic"]) > 0
    assert int(params["real_train_examples"]) == len(version.recipe["real_train_ids"])
    assert metrics["test_new.ABBR.cba"] == pytest.approx(version.metrics_test["per_class"]["ABBR"]["cba"])
    assert metrics["test_new.ABBR.cba"] - metrics["test_m0.ABBR.cba"] == pytest.approx(
        version.summary["test_cba_gain"])
    assert metrics["test.class_cba_gain"] == pytest.approx(version.summary["test_cba_gain"])
    assert "cross_validated.class_cba_gain" in metrics and "test_m0.accuracy" in metrics
    assert {f"test_m0.{c}.recall" for c in ("DESC", "ENTY", "HUM", "LOC", "NUM")} <= set(metrics)
    files = {f.path for f in mlf.list_artifacts(run.info.run_id)}
    report = {f.path for f in mlf.list_artifacts(run.info.run_id, "report")}
    assert "model_card.json" in files and "report/report.md" in report
    assert any(p.endswith(".png") for p in report), report
    card = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                               artifact_path="model_card.json",
                                                               tracking_uri=uri)).read_text())
    assert card["model_id"] == version.id and card["dataset_fingerprint"] == version.dataset_fp
    return mv


def check_alias(uri: str, version, expected: int, actor: str, action: str) -> None:
    mlf = client(uri)
    name = registered_model_name(version.identity)
    mv = mlf.get_model_version_by_alias(name, "production")
    assert int(mv.version) == expected
    assert mv.tags["autogets.production_by"] == actor and mv.tags["autogets.production_action"] == action
    assert mlf.get_registered_model(name).tags["autogets.production_by"] == actor


def test_improve_logs_to_mlflow_and_promote_rollback_move_the_alias(tmp_path, capsys, monkeypatch):
    uri, ws = sqlite_uri(tmp_path / "store"), tmp_path / "ws"
    monkeypatch.setenv("AUTOGETS_MLFLOW_TRACKING_URI", uri)
    code, out, err = run_cli(capsys, *IMPROVE, "--workspace", ws)
    assert code == 0, err
    v1 = only_version(ws)
    assert f"MLflow ({uri}): {v1.id} is version 1 of {registered_model_name(v1.identity)}" in out
    assert "warning" not in err and "WARNING" not in err and "Downloading" not in err, err
    mv1 = check_logged(uri, v1)
    assert int(mv1.version) == 1

    second_version(ws, v1)  # registered through the library: logged too (params from the registry row alone)
    v2 = Registry(Workspace(ws), mlflow_uri=None).get(f"{v1.dataset}-v2")
    assert v2.summary["mlflow"]["state"] == "synced" and v2.summary["mlflow"]["version"] == 2

    assert run_cli(capsys, "models", "promote", v1.id, "--actor", "alice", "--workspace", ws)[0] == 0
    check_alias(uri, v1, 1, "alice", "promote")
    code, out, _ = run_cli(capsys, "models", "promote", v2.id, "--actor", "bob", "--workspace", ws)
    assert code == 0 and "@production → version 2" in out
    check_alias(uri, v1, 2, "bob", "promote")
    code, out, _ = run_cli(capsys, "models", "rollback", "--dataset", "trec6", "--actor", "carol", "--workspace", ws)
    assert code == 0 and "@production → version 1" in out
    check_alias(uri, v1, 1, "carol", "rollback")

    # the pyfunc MLflow serves predicts what `autogets predict` does (labels and scores)
    code, out, err = run_cli(capsys, "predict", "--dataset", "trec6", "--json", "--workspace", ws,
                             *[a for t in TEXTS for a in ("--text", t)])
    assert code == 0, err
    ours = json.loads(out)
    assert ours["model_id"] == v1.id
    import pandas as pd

    mlflow.set_tracking_uri(uri)
    try:
        served = mlflow.pyfunc.load_model(f"models:/{registered_model_name(v1.identity)}@production")
    finally:
        mlflow.set_tracking_uri(None)
    table = served.predict(pd.DataFrame({"text": TEXTS}))
    assert table["predicted_label"].tolist() == [p["label"] for p in ours["predictions"]]
    for cls in ours["classes"]:
        assert table[f"score_{cls}"].tolist() == pytest.approx([p["scores"][cls] for p in ours["predictions"]])
    assert set(table["model_id"]) == {v1.id}
    assert "ABBR" in table["predicted_label"].tolist()  # the texts reach more than one class

    # nothing pending: a sync has nothing to do
    code, out, _ = run_cli(capsys, "models", "sync", "--workspace", ws)
    assert code == 0 and out.strip() == f"MLflow ({uri}): up to date"
    nothing_in_cwd(tmp_path)


def test_unreachable_server_keeps_the_work_pending_until_models_sync(tmp_path, capsys, monkeypatch, trec6_slice):
    ws, closed = tmp_path / "ws", f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AUTOGETS_MLFLOW_TRACKING_URI", closed)
    started = time.monotonic()
    code, out, err = run_cli(capsys, "improve", "--data", trec6_slice, "--class", "ABBR", "--generator", "eda",
                             "--budget", "10", "--classifier", "linear", "--workspace", ws)
    assert code == 0, err
    version = only_version(ws)  # registered in our registry all the same
    assert f"Model {version.id}: candidate" in out
    warnings = [line for line in err.splitlines() if "MLflow" in line]
    assert len(warnings) == 1 and warnings[0].startswith("autogets: warning: MLflow sync pending (")
    assert f"{closed} unreachable" in warnings[0] and version.id in warnings[0] and "models sync" in warnings[0]
    assert version.summary["mlflow"]["state"] == "pending" and "unreachable" in version.summary["mlflow"]["last_error"]
    from agent.answers import mlflow_note  # what the agent says in the thread

    note = mlflow_note(Registry(Workspace(ws), mlflow_uri=None), version.id)
    assert note.startswith(" Note: MLflow sync pending (") and "unreachable" in note

    code, out, err = run_cli(capsys, "models", "promote", version.id, "--actor", "dana", "--workspace", ws)
    assert code == 0 and f"{version.id} is now in production" in out  # the promotion itself is not held up
    assert len(err.strip().splitlines()) == 1 and "the production alias of" in err
    code, out, err = run_cli(capsys, "models", "sync", "--workspace", ws)
    assert code == 1 and "MLflow sync pending" in err  # still down: said again, exit code 1
    assert time.monotonic() - started < 300

    uri = sqlite_uri(tmp_path / "store")  # the server is back (here: a sqlite store)
    monkeypatch.setenv("AUTOGETS_MLFLOW_TRACKING_URI", uri)
    code, out, err = run_cli(capsys, "models", "sync", "--workspace", ws)
    assert code == 0, err
    assert f"{version.id} is version 1 of" in out and "@production → version 1" in out and "by dana" in out
    synced = only_version(ws)
    assert synced.summary["mlflow"]["state"] == "synced" and synced.summary["mlflow"]["version"] == 1
    mv = client(uri).get_model_version_by_alias(registered_model_name(synced.identity), "production")
    assert mv.tags["autogets.model_id"] == version.id and mv.tags["autogets.production_by"] == "dana"
    # a second sync logs nothing twice
    assert run_cli(capsys, "models", "sync", "--workspace", ws)[1].strip().endswith("up to date")
    assert len(client(uri).search_model_versions(f"name = '{registered_model_name(synced.identity)}'")) == 1
    nothing_in_cwd(tmp_path)


def test_without_configuration_mlflow_is_not_used(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AUTOGETS_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # no autogets.toml here
    ws = tmp_path / "ws"
    Workspace(ws).db()
    code, _, err = run_cli(capsys, "models", "sync", "--workspace", ws)
    assert code == 2 and "MLflow is not configured" in err


def test_tracking_uri_from_the_toml(tmp_path, monkeypatch):
    from autogets.config import load_settings

    toml = tmp_path / "conf" / "autogets.toml"  # not in the current folder, where load_settings looks by default
    toml.parent.mkdir()
    toml.write_text('[autogets.mlflow]\ntracking_uri = "http://127.0.0.1:5000"\n')
    assert load_settings(env={}, config_path=toml).mlflow.tracking_uri == "http://127.0.0.1:5000"
    env = {"AUTOGETS_MLFLOW_TRACKING_URI": "sqlite:///x.db"}
    assert load_settings(env=env, config_path=toml).mlflow.tracking_uri == "sqlite:///x.db"
    assert load_settings(env={}, config_path=None).mlflow.tracking_uri is None


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on 127.0.0.1 (sqlite backend, artifacts in tmp), stopped after the test."""
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1",
                             "--backend-store-uri", sqlite_uri(tmp_path / "server"),
                             "--artifacts-destination", str(tmp_path / "server" / "artifacts")],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


@pytest.mark.slow
def test_improve_against_a_real_mlflow_server(tmp_path, mlflow_server):
    """Must show 1: `autogets improve` (a subprocess, as a user runs it) against a real local MLflow server."""
    ws = tmp_path / "ws"
    env = {**os.environ, "AUTOGETS_MLFLOW_TRACKING_URI": mlflow_server, "AUTOGETS_HOME": str(ws)}
    result = subprocess.run([sys.executable, "-m", "autogets", *IMPROVE], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr
    version = only_version(ws)
    assert f"MLflow ({mlflow_server}): {version.id} is version 1 of" in result.stdout
    check_logged(mlflow_server, version)
    result = subprocess.run([sys.executable, "-m", "autogets", "models", "promote", version.id, "--actor", "erin"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "@production → version 1" in result.stdout, result.stderr
    check_alias(mlflow_server, version, 1, "erin", "promote")


def test_the_pyfunc_class_is_defined_without_mlflow_advice():
    """MLflow inspects a PythonModel's predict when the class is defined and warns (in colour, on every CLI run that
    syncs) when it has no type hints; ours declares the DataFrame the logged signature passes."""
    import importlib
    import warnings

    import autogets.mlflow_pyfunc as pyfunc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importlib.reload(pyfunc)
    assert [str(w.message) for w in caught] == []
