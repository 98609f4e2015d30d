"""The paper's published TREC-6 numbers (method Part B §8.1, ICLR App. F Tables 9–11), for side-by-side tables.

Columns of Tables 10–11 are (strategy, generator): the paper's generators are EDA and GPT-3.5; ours are EDA and the
embedded SmolLM2 (or any LLM), so "LLM" columns are compared with the paper's GPT-3.5 columns.
"""

from __future__ import annotations

CLASSES = ("ENTY", "HUM", "DESC", "NUM", "LOC", "ABBR")
STRATEGIES = ("random", "sw", "hsw", "ga")

# Table 9: M0 (CatBoost) per class: balanced accuracy (= CBA), recall, F1; "Overall": OBA, accuracy, macro F1.
M0 = {
    "ENTY": {"cba": 0.861, "recall": 0.825, "f1": 0.757},
    "HUM": {"cba": 0.903, "recall": 0.850, "f1": 0.846},
    "DESC": {"cba": 0.881, "recall": 0.802, "f1": 0.820},
    "NUM": {"cba": 0.908, "recall": 0.836, "f1": 0.866},
    "LOC": {"cba": 0.882, "recall": 0.789, "f1": 0.819},
    "ABBR": {"cba": 0.761, "recall": 0.522, "f1": 0.686},
}
M0_OVERALL = {"oba": 0.889, "accuracy": 0.816, "macro_f1": 0.816}

# Tables 10 (OBA) and 11 (CBA): best improvement within 1 GPU-hour, per class, (strategy, generator).
_ORDER = [(s, g) for s in STRATEGIES for g in ("eda", "llm")]
_OBA = {
    "ENTY": (.0011, .0011, .0045, .0080, .0017, .0033, .0017, .0022),
    "HUM": (.0030, .0033, .0056, .0086, .0044, .0058, .0033, .0067),
    "DESC": (.0033, .0039, .0055, .0080, .0044, .0058, .0006, .0058),
    "NUM": (.0036, .0039, .0078, .0097, .0060, .0070, .0022, .0071),
    "LOC": (.0019, .0041, .0056, .0093, .0039, .0082, .0006, .0055),
    "ABBR": (.0052, .0055, .0057, .0080, .0059, .0088, .0055, .0088),
}
_CBA = {
    "ENTY": (.0021, .0043, .0084, .0207, .0083, .0125, .0045, .0056),
    "HUM": (.0071, .0124, .0135, .0289, .0214, .0283, .0148, .0204),
    "DESC": (.0125, .0150, .0189, .0422, .0261, .0353, .0188, .0259),
    "NUM": (.0332, .0334, .0365, .0532, .0453, .0512, .0327, .0512),
    "LOC": (.0199, .0212, .0452, .0523, .0490, .0544, .0266, .0390),
    "ABBR": (.0552, .0552, .0635, .0785, .0652, .0785, .0652, .0785),
}
GAINS = {obj: {cls: dict(zip(_ORDER, row, strict=True)) for cls, row in table.items()}
         for obj, table in (("oba", _OBA), ("cba", _CBA))}


def paper_gain(objective: str, cls: str, strategy: str, generator: str) -> float | None:
    """The paper's gain for a cell, or None (no such cell: other data, objective or method)."""
    family = "eda" if generator == "eda" else "llm"
    return GAINS.get(objective, {}).get(cls, {}).get((strategy, family))


def best_gain(objective: str, cls: str) -> float | None:
    row = GAINS.get(objective, {}).get(cls)
    return max(row.values()) if row else None


def cba_target(cls: str) -> float | None:
    """The paper's M0 CBA plus its best CBA gain: the absolute target of the benchmark issue."""
    if cls not in M0:
        return None
    return round(M0[cls]["cba"] + best_gain("cba", cls), 3)
