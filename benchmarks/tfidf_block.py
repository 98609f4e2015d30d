"""Issue 21 item 2: do TF-IDF features beside the MiniLM vectors win, and in which form?

For each split seed: 5-fold cross-validated macro CBA on train + validation (what ``auto`` sees) and test macro CBA of
the model fitted on train + validation (plus the external test where the data set has one), for

- ``minilm``: the vectors alone, balanced ridge (the product's ``minilm``);
- ``tfidf``: word 1–2-gram TF-IDF alone, balanced LinearSVC;
- ``sparse``: the full TF-IDF beside the vectors, balanced LinearSVC (no closed-form search: 10 SVM fits a candidate);
- ``svdK``: K SVD dimensions of the TF-IDF beside the vectors, balanced ridge (dense: the search's fast path; K = 128 is
  the product's ``minilm-tfidf``).

    python benchmarks/tfidf_block.py trec6 --workspace WS [--seeds 42 43 44] [--out FILE.json]

Embeddings come from (and go to) the workspace's embedding cache.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from autogets.classifiers import BalancedRidge, TfidfSvd
from autogets.data import external_test, load_dataset, split_dataset
from autogets.embeddings import embed, get_embedder, store_for, use_store
from autogets.folds import assign_folds
from autogets.metrics import compute_metrics

FORMS = ("minilm", "tfidf", "sparse", "svd64", "svd128", "svd256", "svd512")


def features(form: str, fit_texts: list[str], texts: list[str], encoder) -> tuple:
    if form == "minilm":
        return embed(encoder, fit_texts), embed(encoder, texts)
    if form.startswith("svd"):
        block = TfidfSvd(n_components=int(form[3:])).fit(fit_texts)  # the product's block (minilm-tfidf at 128)
        return (np.hstack([block.transform(fit_texts), embed(encoder, fit_texts)]),
                np.hstack([block.transform(texts), embed(encoder, texts)]))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(fit_texts)
    a, b = vectorizer.transform(fit_texts), vectorizer.transform(texts)
    if form == "tfidf":
        return a, b
    return (sp.hstack([a, sp.csr_matrix(embed(encoder, fit_texts))]).tocsr(),   # "sparse"
            sp.hstack([b, sp.csr_matrix(embed(encoder, texts))]).tocsr())


def head(form: str):
    return LinearSVC(C=1.0, class_weight="balanced") if form in ("tfidf", "sparse") else BalancedRidge(alpha=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--forms", nargs="+", default=list(FORMS), choices=FORMS)
    parser.add_argument("--out")
    args = parser.parse_args()
    from pathlib import Path

    use_store(store_for(Path(args.workspace)))
    encoder = get_embedder("minilm")
    dataset = load_dataset(args.dataset)
    external = external_test(args.dataset)
    rows = []
    for seed in args.seeds:
        split = split_dataset(dataset, seed=seed)
        both = pd.concat([split.train, split.validation])
        texts, y = list(both["text"]), both["label"].to_numpy()
        classes = sorted(set(y))
        fold = assign_folds(y, folds=5, repeats=1, seed=seed)[0]
        for form in args.forms:
            start = time.perf_counter()
            predicted = np.empty(len(y), dtype=object)
            for f in np.unique(fold):
                out = fold == f
                a, b = features(form, [texts[i] for i in np.flatnonzero(~out)],
                                [texts[i] for i in np.flatnonzero(out)], encoder)
                predicted[out] = head(form).fit(a, y[~out]).predict(b)
            a, b = features(form, texts, list(split.test["text"]), encoder)
            model = head(form).fit(a, y)
            row = {"dataset": args.dataset, "seed": seed, "form": form,
                   "cv_macro_cba": round(compute_metrics(y, predicted, classes).macro_cba, 4),
                   "test_macro_cba": round(compute_metrics(split.test["label"].to_numpy(), model.predict(b),
                                                           classes).macro_cba, 4)}
            if external is not None:
                _, c = features(form, texts, list(external["text"]), encoder)
                scored = compute_metrics(external["label"].to_numpy(), model.predict(c), classes)
                row |= {"external_macro_cba": round(scored.macro_cba, 4),
                        "external_accuracy": round(scored.accuracy, 4)}
            row["seconds"] = round(time.perf_counter() - start, 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
    if args.out:
        Path(args.out).write_text(json.dumps({"command": "python benchmarks/tfidf_block.py " + args.dataset,
                                              "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
