"""Seeded, realistic sample data set: customer churn.

Standard library only, so any python3 (with or without torch) can generate it. It has what
real tabular data has: numeric and categorical columns, missing values, a skewed label
(about 15-20% positives) and a segment column (`region`). The label depends on the
features through a noisy logistic model, so a small MLP learns something real.

    python3 -m ml_trainer.sample_data --out DIR [--rows 6000] [--seed 7]

writes DIR/train.csv and DIR/schema.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
from typing import Dict, List, Optional

SCHEMA = {
    "name": "churn",
    "label": "outcome",
    "labels": ["stay", "churn"],
    "positive_label": "churn",
    "segment_column": "region",
    "features": [
        {"name": "tenure_months", "type": "numeric", "required": False, "min": 0, "max": 240},
        {"name": "monthly_charges", "type": "numeric", "required": True, "min": 0, "max": None},
        {"name": "support_tickets", "type": "numeric", "required": False, "min": 0, "max": 50},
        {"name": "age", "type": "numeric", "required": False, "min": 18, "max": 100},
        {"name": "plan", "type": "categorical", "required": True, "unknown": "error"},
        {"name": "region", "type": "categorical", "required": True, "unknown": "error"},
        {"name": "payment_method", "type": "categorical", "required": False, "unknown": "ignore"},
    ],
}

COLUMNS = [f["name"] for f in SCHEMA["features"]] + [SCHEMA["label"]]


def _choice(rng: random.Random, options: List[str], weights: List[float]) -> str:
    return rng.choices(options, weights=weights, k=1)[0]


def generate_rows(rows: int = 6000, seed: int = 7) -> List[Dict[str, Optional[object]]]:
    rng = random.Random(seed)
    out: List[Dict[str, Optional[object]]] = []
    for _ in range(rows):
        plan = _choice(rng, ["basic", "pro", "enterprise"], [0.5, 0.35, 0.15])
        region = _choice(rng, ["eu", "us", "apac"], [0.4, 0.4, 0.2])
        payment = _choice(rng, ["card", "bank_transfer", "invoice", "paypal"], [0.45, 0.25, 0.15, 0.15])
        tenure = min(240, int(rng.expovariate(1 / 24.0)))
        base_charge = {"basic": 25.0, "pro": 60.0, "enterprise": 140.0}[plan]
        charges = round(max(5.0, rng.gauss(base_charge, base_charge * 0.2)), 2)
        tickets = min(50, int(rng.expovariate(1 / (1.5 if plan != "basic" else 2.5))))
        age = min(100, max(18, int(rng.gauss(42, 13))))

        logit = (
            -1.9
            - 0.045 * tenure
            + 0.012 * (charges - base_charge)
            + 0.35 * tickets
            + {"basic": 0.5, "pro": 0.0, "enterprise": -0.6}[plan]
            + {"eu": 0.0, "us": 0.2, "apac": 0.5}[region]
            + {"card": 0.0, "bank_transfer": -0.3, "invoice": 0.6, "paypal": 0.2}[payment]
            - 0.01 * (age - 42)
            + rng.gauss(0, 0.4)
        )
        churn = rng.random() < 1 / (1 + math.exp(-logit))

        row: Dict[str, Optional[object]] = {
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_tickets": tickets,
            "age": age,
            "plan": plan,
            "region": region,
            "payment_method": payment,
            "outcome": "churn" if churn else "stay",
        }
        # Missing values, more often where real systems lose them.
        if rng.random() < 0.04:
            row["tenure_months"] = None
        if rng.random() < 0.03:
            row["support_tickets"] = None
        if rng.random() < 0.08:
            row["age"] = None
        if rng.random() < 0.05:
            row["payment_method"] = None
        out.append(row)
    return out


def write_csv(path: str, rows: List[Dict[str, Optional[object]]], columns: List[str] = COLUMNS) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])


def write_sample(out_dir: str, rows: int = 6000, seed: int = 7) -> None:
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, "train.csv"), generate_rows(rows, seed))
    with open(os.path.join(out_dir, "schema.json"), "w", encoding="utf-8") as f:
        json.dump(SCHEMA, f, indent=2)
        f.write("\n")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", required=True, help="folder to write train.csv and schema.json into")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write_sample(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
