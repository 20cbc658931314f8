"""Stage preprocess: raw Titanic passengers -> encoded, imputed train/test splits.

  in:     spec/data/titanic.csv            params: split.seed, split.test_size
  out:    build/train.csv, build/test.csv  (columns features.FEATURES + survived)
          build/features.json              (feature order and the imputation values)

The split is stratified on Survived. Imputation values (median age per class and sex, median
fare per class, most common port) are fitted on the training split only, then applied to both
splits, so the test score stays honest.
"""

from __future__ import annotations

from sklearn.model_selection import train_test_split

import features
import stageio

RAW = "spec/data/titanic.csv"


def main() -> None:
    p = stageio.params("split")
    seed = stageio.require(p, "seed", int, "split")
    test_size = stageio.require(p, "test_size", (int, float), "split")
    if not 0 < test_size < 1:
        stageio.fail(f"param split.test_size must be between 0 and 1; got {test_size}")

    passengers, labels = features.read_raw(RAW)
    index = list(range(len(passengers)))
    train_idx, test_idx = train_test_split(
        index, test_size=test_size, random_state=seed, stratify=labels, shuffle=True
    )
    # Sorted: the files list passengers in their original order, whatever the shuffle did.
    train_idx, test_idx = sorted(train_idx), sorted(test_idx)

    imputation = features.fit_imputation([passengers[i] for i in train_idx])
    for name, idx in (("train", train_idx), ("test", test_idx)):
        rows = [features.encode(passengers[i], imputation) for i in idx]
        features.write_encoded(f"build/{name}.csv", rows, [labels[i] for i in idx])
    stageio.write_json(
        "build/features.json",
        {"features": features.FEATURES, "target": features.TARGET, "imputation": imputation},
    )
    survived = sum(labels[i] for i in train_idx)
    print(
        f"preprocess: {len(passengers)} passengers -> train {len(train_idx)} "
        f"({survived / len(train_idx):.1%} survived), test {len(test_idx)}; seed {seed}"
    )


if __name__ == "__main__":
    main()
