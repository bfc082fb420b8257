"""Loading CSV channels, the feature schema, data checks and stratified splits.

Every check fails with a `DataCheckError` whose message names the column (or channel) and
says what is wrong, because that line becomes the job's FailureReason.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .contract import Hyperparameters


class DataCheckError(Exception):
    """Bad input data. The message is shown to the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(f"data check failed: {message}")


@dataclass
class FeatureSpec:
    name: str
    type: str  # numeric | categorical
    required: bool = False
    min: Optional[float] = None
    max: Optional[float] = None
    unknown: str = "ignore"  # categorical only


@dataclass
class Schema:
    name: str
    label: str
    features: List[FeatureSpec]
    labels: Optional[List[str]] = None
    positive_label: Optional[str] = None
    segment_column: Optional[str] = None
    task: str = "classification"  # classification | regression (a numeric label)

    @property
    def regression(self) -> bool:
        return self.task == "regression"


@dataclass
class Table:
    """Raw columns as parsed values: float (nan = missing) for numeric, str/None for the rest."""

    columns: Dict[str, list] = field(default_factory=dict)
    n: int = 0

    def take(self, index: Sequence[int]) -> "Table":
        idx = np.asarray(index, dtype=np.int64)
        cols = {}
        for name, values in self.columns.items():
            if isinstance(values, np.ndarray):
                cols[name] = values[idx]
            else:
                cols[name] = [values[i] for i in idx]
        return Table(cols, len(idx))

    def row(self, i: int) -> Dict[str, object]:
        return {name: values[i] for name, values in self.columns.items()}


def iter_csv(channel: str, file: str, header: Optional[List[str]]) -> Iterator[Tuple[int, List[str]]]:
    """Yields (line number, fields) of one CSV file, first the header as line 1; checks the
    header against `header` (None: any) and every row's field count against the header."""
    with open(file, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            file_header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataCheckError(f"channel '{channel}': {os.path.basename(file)} is empty") from None
        if header is not None and file_header != header:
            raise DataCheckError(
                f"channel '{channel}': {os.path.basename(file)} has columns {file_header}, expected {header}"
            )
        yield 1, file_header
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(file_header):
                raise DataCheckError(
                    f"channel '{channel}': {os.path.basename(file)} line {line_no} has {len(row)} fields, "
                    f"expected {len(file_header)}"
                )
            yield line_no, row


def read_channel(channel: str, path: str) -> Tuple[List[str], List[List[str]]]:
    files = sorted(glob.glob(os.path.join(path, "*.csv")))
    if not files:
        raise DataCheckError(f"channel '{channel}' has no .csv file in {path}")
    header: Optional[List[str]] = None
    rows: List[List[str]] = []
    for file in files:
        lines = iter_csv(channel, file, header)
        _, header = next(lines)
        rows.extend(row for _, row in lines)
    assert header is not None
    return header, rows


def load_schema(train_dir: str, header: List[str], hp: Hyperparameters) -> Schema:
    path = os.path.join(train_dir, "schema.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        features = [
            FeatureSpec(
                name=f["name"],
                type=f["type"],
                required=bool(f.get("required", False)),
                min=f.get("min"),
                max=f.get("max"),
                unknown=f.get("unknown", "ignore"),
            )
            for f in raw["features"]
        ]
        for f in features:
            if f.type not in ("numeric", "categorical"):
                raise DataCheckError(f"schema.json: feature '{f.name}' has type '{f.type}' (numeric | categorical)")
        schema = Schema(
            name=raw.get("name", "model"),
            label=raw.get("label", "label"),
            features=features,
            labels=raw.get("labels"),
            positive_label=raw.get("positive_label"),
            segment_column=raw.get("segment_column"),
            task=raw.get("task", "classification"),
        )
    else:
        schema = Schema(name="model", label=hp.target or "label", features=[])
    if hp.target:
        schema.label = hp.target
    if hp.task:
        schema.task = hp.task
    if schema.task not in ("classification", "regression"):
        raise DataCheckError(f"task '{schema.task}' is not classification or regression (schema.json or --task)")
    if hp.model_name:
        schema.name = hp.model_name
    if hp.segment_column:
        schema.segment_column = None if hp.segment_column == "none" else hp.segment_column
    if not schema.features:
        schema.features = [FeatureSpec(name=c, type="") for c in header if c != schema.label]
    return schema


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_table(channel: str, header: List[str], rows: List[List[str]], schema: Schema) -> Table:
    """Checks the schema against the header and parses values (schema types inferred once)."""
    position = {name: i for i, name in enumerate(header)}
    if schema.label not in position:
        raise DataCheckError(f"label column '{schema.label}' is missing from channel '{channel}' (columns: {header})")
    needed = [f.name for f in schema.features]
    if schema.segment_column:
        needed.append(schema.segment_column)
    for name in needed:
        if name not in position:
            raise DataCheckError(f"column '{name}' is missing from channel '{channel}' (columns: {header})")
    table = Table(n=len(rows))
    for spec in schema.features:
        raw = [row[position[spec.name]].strip() for row in rows]
        if not spec.type:  # inferred schema: numeric when every present value parses
            present = [v for v in raw if v != ""]
            spec.type = "numeric" if present and all(_is_number(v) for v in present) else "categorical"
            spec.required = len(present) == len(raw)
        if spec.type == "numeric":
            table.columns[spec.name] = _numbers(channel, f"column '{spec.name}'", "numeric", raw)
        else:
            table.columns[spec.name] = [v if v != "" else None for v in raw]
    if schema.regression and schema.label not in table.columns:
        raw_label = [row[position[schema.label]].strip() for row in rows]
        table.columns[schema.label] = _numbers(channel, f"label column '{schema.label}'", "numeric (task regression)", raw_label)
    for extra in (schema.label, schema.segment_column):
        if extra and extra not in table.columns:
            table.columns[extra] = [row[position[extra]].strip() or None for row in rows]
    return table


def _numbers(channel: str, column: str, kind: str, raw: List[str]) -> np.ndarray:
    """Finite numbers, NaN where missing; the first bad value fails naming the column and row."""
    values = np.full(len(raw), math.nan)
    for i, v in enumerate(raw):
        if v == "":
            continue
        try:
            values[i] = float(v)
        except ValueError:
            raise DataCheckError(
                f"{column} is {kind} but has non-numeric value {v!r} (channel '{channel}', data row {i + 1})"
            ) from None
        if not math.isfinite(values[i]):
            raise DataCheckError(f"{column} has non-finite value {v!r} (channel '{channel}', data row {i + 1})")
    return values


def check_table(channel: str, table: Table, schema: Schema, hp: Hyperparameters, *, is_train: bool) -> Table:
    """Runs the data checks; returns the table with exact duplicate rows dropped (train only)."""
    if is_train:
        check_row_count(channel, table.n, hp)
    if table.n == 0:
        raise DataCheckError(f"channel '{channel}' has no rows")

    labels = table.columns[schema.label]
    missing_labels = int(np.isnan(labels).sum()) if schema.regression else sum(1 for v in labels if v is None)
    if missing_labels:
        raise DataCheckError(f"label column '{schema.label}' has {missing_labels} missing values (channel '{channel}')")
    if schema.labels is not None and not schema.regression:
        for v in labels:
            if v not in schema.labels:
                raise DataCheckError(
                    f"label column '{schema.label}' has value {v!r} not in the declared labels {schema.labels}"
                )

    for spec in schema.features:
        values = table.columns[spec.name]
        if spec.type == "numeric":
            missing_mask = np.isnan(values)
            missing = int(missing_mask.sum())
        else:
            missing = sum(1 for v in values if v is None)
        if spec.required and missing:
            raise DataCheckError(
                f"column '{spec.name}' is required but has {missing} missing values (channel '{channel}')"
            )
        check_missing_fraction(channel, spec.name, missing, table.n, hp)
        if spec.type == "numeric":
            present = values[~missing_mask]
            for bound, bad in (
                (spec.min, present < spec.min if spec.min is not None else None),
                (spec.max, present > spec.max if spec.max is not None else None),
            ):
                if bad is not None and bad.any():
                    value = present[bad][0]
                    raise DataCheckError(
                        f"column '{spec.name}' has value {value:g} outside its range "
                        f"[{_fmt(spec.min)}, {_fmt(spec.max)}] (channel '{channel}')"
                    )
            if is_train and present.size and float(present.min()) == float(present.max()):
                print(f"warning: column '{spec.name}' is constant ({present[0]:g}) in channel '{channel}'", flush=True)

    if not is_train:
        return table

    if schema.regression:
        if float(np.min(labels)) == float(np.max(labels)):
            raise DataCheckError(f"label column '{schema.label}' has a single value ({labels[0]:g}): nothing to learn")
    counts: Dict[str, int] = {}
    for v in [] if schema.regression else labels:
        counts[v] = counts.get(v, 0) + 1
    if not schema.regression:
        check_classes(schema.label, counts, table.n, hp)

    seen = set()
    keep: List[int] = []
    names = list(table.columns)
    for i in range(table.n):
        key = tuple(_key(table.columns[c][i]) for c in names)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    duplicates = table.n - len(keep)
    if duplicates / table.n > hp.max_duplicate_fraction:
        raise DataCheckError(
            f"channel '{channel}': {duplicates / table.n:.1%} of rows are exact duplicates "
            f"(limit {hp.max_duplicate_fraction:.1%})"
        )
    if duplicates:
        print(f"dropping {duplicates} exact duplicate rows from channel '{channel}'", flush=True)
        return table.take(keep)
    return table


def check_row_count(channel: str, n: int, hp: Hyperparameters) -> None:
    if n < hp.min_rows:
        raise DataCheckError(f"channel '{channel}' has {n} rows; at least {hp.min_rows} are needed")


def check_missing_fraction(channel: str, column: str, missing: int, n: int, hp: Hyperparameters) -> None:
    fraction = missing / n
    if fraction > hp.max_missing_fraction:
        raise DataCheckError(
            f"column '{column}' has {fraction:.1%} missing values (limit {hp.max_missing_fraction:.1%}, "
            f"channel '{channel}')"
        )


def check_classes(label: str, counts: Dict[str, int], n: int, hp: Hyperparameters) -> None:
    """At least two classes, each with `min_class_count` rows and `min_class_fraction` of them."""
    if len(counts) < 2:
        raise DataCheckError(f"label column '{label}' has only one class ({next(iter(counts))!r})")
    for cls, count in sorted(counts.items()):
        if count < hp.min_class_count:
            raise DataCheckError(
                f"label column '{label}': class {cls!r} has {count} rows (minimum {hp.min_class_count})"
            )
        if count / n < hp.min_class_fraction:
            raise DataCheckError(
                f"label column '{label}': class {cls!r} is {count / n:.2%} of rows "
                f"(minimum {hp.min_class_fraction:.2%})"
            )


def _key(v: object) -> object:
    # NaN != NaN: one key for a missing number, so rows with the same gaps count as duplicates.
    return "<missing>" if isinstance(v, float) and math.isnan(v) else v


def _fmt(v: Optional[float]) -> str:
    return "none" if v is None else f"{v:g}"


def stratified_split(labels: Sequence[str], fractions: Sequence[float], seed: int) -> List[List[int]]:
    """Splits row indices into len(fractions)+1 parts (the rest first), preserving class ratios."""
    rng = np.random.RandomState(seed)
    parts: List[List[int]] = [[] for _ in range(len(fractions) + 1)]
    by_class: Dict[str, List[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for cls in sorted(by_class):
        idx = np.array(by_class[cls])
        rng.shuffle(idx)
        start = 0
        sizes = [int(round(len(idx) * f)) for f in fractions]
        for p, size in enumerate(sizes, start=1):
            parts[p].extend(idx[start : start + size].tolist())
            start += size
        parts[0].extend(idx[start:].tolist())
    return [sorted(p) for p in parts]
