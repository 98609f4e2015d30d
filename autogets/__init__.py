"""AutoGeTS: improve a text classifier's weak classes with LLM-generated training data chosen by search.

``autogets.load_model(dataset, version=None, workspace=None)`` returns a registered model (see
:func:`autogets.serving.load_model`); it is imported on first use, so ``import autogets`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:
    if name == "load_model":
        from autogets.serving import load_model

        return load_model
    raise AttributeError(f"module 'autogets' has no attribute {name!r}")
