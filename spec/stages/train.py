"""Stage train: fit two models, keep the one that does better on a validation split.

  in:     build/train.csv, build/features.json
  params: train.validation_size, train.seed,
          train.logistic.{C, max_iter}, train.forest.{n_estimators, max_depth, min_samples_leaf}
  out:    build/model.pkl           the kept model, bundled with the feature encoding it expects
          build/model.json          which model was kept and why (not metrics: text)
  metrics build/train_metrics.json  validation accuracy of both models, and which one was kept

Method: the training split is split again (stratified) into fit and validation parts. A
logistic regression (standardised inputs) and a random forest are fitted on the fit part and
scored on the validation part. The better one is kept (a tie keeps the logistic regression, the
simpler model) and refitted on the whole training split, so the deployed model sees all training
data; the test split is never looked at here (evaluate does that).
"""

from __future__ import annotations

import json

import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import features
import stageio


def build_models(p: dict) -> dict:
    seed = stageio.require(p, "seed", int, "train")
    lp = stageio.require(p, "logistic", dict, "train")
    fp = stageio.require(p, "forest", dict, "train")
    max_depth = fp.get("max_depth")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int)):
        stageio.fail(f"param train.forest.max_depth must be an integer or null; got {max_depth!r}")
    return {
        "logistic": make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=float(stageio.require(lp, "C", (int, float), "train.logistic")),
                max_iter=stageio.require(lp, "max_iter", int, "train.logistic"),
                random_state=seed,
            ),
        ),
        "forest": RandomForestClassifier(
            n_estimators=stageio.require(fp, "n_estimators", int, "train.forest"),
            max_depth=max_depth,
            min_samples_leaf=stageio.require(fp, "min_samples_leaf", int, "train.forest"),
            random_state=seed,
            n_jobs=1,  # one thread: results do not depend on scheduling
        ),
    }


def main() -> None:
    p = stageio.params("train")
    validation_size = stageio.require(p, "validation_size", (int, float), "train")
    if not 0 < validation_size < 1:
        stageio.fail(f"param train.validation_size must be between 0 and 1; got {validation_size}")
    seed = stageio.require(p, "seed", int, "train")

    X, y = features.read_encoded("build/train.csv")
    with open("build/features.json", encoding="utf-8") as f:
        encoding = json.load(f)
    if encoding["features"] != features.FEATURES:
        stageio.fail("build/features.json does not match spec/stages/features.py; rerun preprocess")

    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=validation_size, random_state=seed, stratify=y
    )
    scores = {}
    for name, model in build_models(p).items():
        model.fit(X_fit, y_fit)
        scores[name] = round(float(accuracy_score(y_val, model.predict(X_val))), 4)
        print(f"train: {name:9s} validation accuracy {scores[name]:.4f}")
    chosen = "forest" if scores["forest"] > scores["logistic"] else "logistic"

    final = build_models(p)[chosen]  # fresh, same params and seed
    final.fit(X, y)
    stageio.write_pickle(
        "build/model.pkl",
        {
            "name": chosen,
            "model": final,
            "features": features.FEATURES,
            "imputation": encoding["imputation"],
            "sklearn_version": sklearn.__version__,
        },
    )
    stageio.write_json(
        "build/train_metrics.json",
        {
            "logistic_accuracy": scores["logistic"],
            "forest_accuracy": scores["forest"],
            "chosen_is_forest": 1 if chosen == "forest" else 0,
            "validation_rows": int(len(y_val)),
            "train_rows": int(len(y)),
        },
    )
    stageio.write_json(
        "build/model.json",
        {
            "chosen": chosen,
            "params": p[chosen],
            "validation_accuracy": scores,
            "features": features.FEATURES,
            "sklearn_version": sklearn.__version__,
            "refit_on": "whole training split",
        },
    )
    print(f"train: kept {chosen}, refitted on all {len(y)} training rows -> build/model.pkl")


if __name__ == "__main__":
    main()
