"""Stage evaluate: score the kept model on the held-out test split.

  in:      build/model.pkl, build/test.csv
  metrics: build/metrics.json  {accuracy, precision, recall, f1, roc_auc, test_rows}
           (flat, rounded to 4 decimals; "survived" is the positive class)
"""

from __future__ import annotations

from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

import features
import stageio


def main() -> None:
    bundle = stageio.read_pickle("build/model.pkl")
    if bundle.get("features") != features.FEATURES:
        stageio.fail("build/model.pkl was trained on other features; rerun train")
    model = bundle["model"]
    X, y = features.read_encoded("build/test.csv")
    predicted = model.predict(X)
    probability = model.predict_proba(X)[:, 1]
    metrics = {
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted, zero_division=0),
        "recall": recall_score(y, predicted, zero_division=0),
        "f1": f1_score(y, predicted, zero_division=0),
        "roc_auc": roc_auc_score(y, probability),
    }
    metrics = {k: round(float(v), 4) for k, v in metrics.items()}
    metrics["test_rows"] = int(len(y))
    stageio.write_json("build/metrics.json", metrics)
    print(
        f"evaluate: {bundle['name']} on {len(y)} test passengers: "
        + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "test_rows")
    )


if __name__ == "__main__":
    main()
