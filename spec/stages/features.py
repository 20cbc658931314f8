"""Feature encoding of a Titanic passenger, shared by preprocess, train, evaluate and serve.

One function turns a passenger (raw CSV row or API request) into the model's feature vector,
so training and serving can never disagree on the encoding.

Encoding (column order = FEATURES):
  pclass            1, 2 or 3 (ordinal: first class is "more" than third)
  sex_female        1 for female, 0 for male
  age               years; missing -> median age of the passenger's (pclass, sex) group in the
                    training split
  sibsp, parch      siblings/spouses and parents/children aboard
  fare              ticket price; missing -> median fare of the passenger's class
  embarked_C/Q/S    one-hot port of embarkation; missing -> the training split's most common port

The imputation values are fitted on the training split only (no test leakage), written to
build/features.json by preprocess and bundled into the model, so serve imputes the same way.
Free-text columns (Name, Ticket, Cabin) and PassengerId are dropped.
"""

from __future__ import annotations

import csv
import math
import statistics
from typing import Any

FEATURES = [
    "pclass",
    "sex_female",
    "age",
    "sibsp",
    "parch",
    "fare",
    "embarked_C",
    "embarked_Q",
    "embarked_S",
]
TARGET = "survived"
PORTS = ("C", "Q", "S")
SEXES = ("female", "male")
CLASSES = (1, 2, 3)


# --- raw data --------------------------------------------------------------


def _optional_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def passenger_from_row(row: dict[str, str]) -> dict[str, Any]:
    """A passenger (API field names) from one row of the raw Kaggle CSV."""
    return {
        "pclass": int(row["Pclass"]),
        "sex": row["Sex"].strip(),
        "age": _optional_float(row["Age"]),
        "sibsp": int(row["SibSp"]),
        "parch": int(row["Parch"]),
        "fare": _optional_float(row["Fare"]),
        "embarked": row["Embarked"].strip() or None,
    }


def read_raw(path: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Passengers and their Survived labels from the raw CSV."""
    passengers, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            passengers.append(passenger_from_row(row))
            labels.append(int(row["Survived"]))
    return passengers, labels


# --- imputation --------------------------------------------------------------


def fit_imputation(passengers: list[dict[str, Any]]) -> dict[str, Any]:
    """Imputation values learnt from (training) passengers; plain JSON types, sorted keys."""
    ages = [p["age"] for p in passengers if p["age"] is not None]
    age_by_group = {}
    for pclass in CLASSES:
        for sex in SEXES:
            group = [
                p["age"]
                for p in passengers
                if p["age"] is not None and p["pclass"] == pclass and p["sex"] == sex
            ]
            age_by_group[f"{pclass}/{sex}"] = float(statistics.median(group or ages))
    fares = [p["fare"] for p in passengers if p["fare"] is not None]
    fare_by_class = {}
    for pclass in CLASSES:
        group = [p["fare"] for p in passengers if p["fare"] is not None and p["pclass"] == pclass]
        fare_by_class[str(pclass)] = float(statistics.median(group or fares))
    counts = {port: 0 for port in PORTS}
    for p in passengers:
        if p["embarked"] in counts:
            counts[p["embarked"]] += 1
    # Most common port; ties go to the alphabetically first, so the result never depends on order.
    embarked_mode = sorted(PORTS, key=lambda port: (-counts[port], port))[0]
    return {
        "age_by_class_sex": age_by_group,
        "fare_by_class": fare_by_class,
        "embarked_mode": embarked_mode,
    }


def encode(passenger: dict[str, Any], imputation: dict[str, Any]) -> list[float]:
    """The feature vector (order FEATURES) of a validated passenger."""
    pclass, sex = passenger["pclass"], passenger["sex"]
    age = passenger.get("age")
    if age is None:
        age = imputation["age_by_class_sex"][f"{pclass}/{sex}"]
    fare = passenger.get("fare")
    if fare is None:
        fare = imputation["fare_by_class"][str(pclass)]
    port = passenger.get("embarked") or imputation["embarked_mode"]
    return [
        float(pclass),
        1.0 if sex == "female" else 0.0,
        float(age),
        float(passenger.get("sibsp") or 0),
        float(passenger.get("parch") or 0),
        float(fare),
        1.0 if port == "C" else 0.0,
        1.0 if port == "Q" else 0.0,
        1.0 if port == "S" else 0.0,
    ]


# --- encoded CSV files (build/train.csv, build/test.csv) ----------------------


def format_number(x: float) -> str:
    """Shortest text that reads back as the same float; integers without '.0'. Deterministic."""
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def write_encoded(path: str, rows: list[list[float]], labels: list[int]) -> None:
    """Writes an encoded CSV atomically (LF line endings, numbers via format_number)."""
    import stageio

    lines = [",".join(FEATURES + [TARGET])]
    for row, label in zip(rows, labels):
        lines.append(",".join(format_number(v) for v in row) + f",{int(label)}")
    stageio.write_text(path, "\n".join(lines) + "\n")


def read_encoded(path: str):
    """(X, y) as numpy arrays from an encoded CSV; checks the header."""
    import numpy as np

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header != FEATURES + [TARGET]:
            raise SystemExit(f"{path}: unexpected columns {header}; expected {FEATURES + [TARGET]}")
        data = [[float(v) for v in row] for row in reader]
    matrix = np.asarray(data, dtype=np.float64)
    return matrix[:, :-1], matrix[:, -1].astype(np.int64)


# --- validation of an API request ----------------------------------------------

# field -> (required, description used in error messages)
FIELDS = {
    "pclass": (True, "ticket class: 1, 2 or 3"),
    "sex": (True, "'male' or 'female'"),
    "age": (False, "age in years, a number from 0 to 120, or null if unknown"),
    "sibsp": (True, "number of siblings/spouses aboard, an integer >= 0"),
    "parch": (True, "number of parents/children aboard, an integer >= 0"),
    "fare": (True, "ticket price, a number >= 0"),
    "embarked": (False, "port of embarkation: 'C', 'Q' or 'S', or null if unknown"),
}


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_integer(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def parse_passenger(obj: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Validates a request body. Returns (passenger, []) or (None, errors); each error names
    its field: {"field": "age", "message": "..."}. All errors are reported at once."""
    if not isinstance(obj, dict):
        return None, [{"field": "", "message": "the body must be a JSON object with the passenger's fields"}]
    errors = []
    for name in sorted(set(obj) - set(FIELDS)):
        errors.append({"field": name, "message": f"unknown field; expected: {', '.join(FIELDS)}"})
    out: dict[str, Any] = {}
    for name, (required, what) in FIELDS.items():
        value = obj.get(name)
        if value is None:
            if required:
                state = "is null" if name in obj else "is missing"
                errors.append({"field": name, "message": f"required field {state}: {what}"})
            else:
                out[name] = None
            continue
        ok = True
        if name == "pclass":
            ok = _is_integer(value) and int(value) in CLASSES
            value = int(value) if ok else value
        elif name == "sex":
            ok = isinstance(value, str) and value.strip().lower() in SEXES
            value = value.strip().lower() if ok else value
        elif name == "embarked":
            ok = isinstance(value, str) and value.strip().upper() in PORTS
            value = value.strip().upper() if ok else value
        elif name in ("sibsp", "parch"):
            ok = _is_integer(value) and value >= 0
            value = int(value) if ok else value
        elif name == "age":
            ok = _is_number(value) and 0 <= value <= 120
        elif name == "fare":
            ok = _is_number(value) and value >= 0
        if not ok:
            errors.append({"field": name, "message": f"must be {what}; got {value!r}"})
        out[name] = value
    if errors:
        return None, errors
    return out, []
