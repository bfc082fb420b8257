"""Preprocessing exactly as docs/model-bundle.md defines it, fitted on the training split only.

`fit` returns the manifest's `features` list; `transform` is the one implementation the
trainer uses for training, evaluation and golden vectors, so what the network learns from
is what the service will feed it.
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .data import DataCheckError, Schema, Table

QUANTILES = [q / 10 for q in range(1, 10)]


def fit(train: Table, schema: Schema) -> List[Dict[str, object]]:
    features: List[Dict[str, object]] = []
    for spec in schema.features:
        values = train.columns[spec.name]
        if spec.type == "numeric":
            present = values[~np.isnan(values)]
            features.append(
                {
                    "name": spec.name,
                    "type": "numeric",
                    "required": spec.required,
                    "min": spec.min,
                    "max": spec.max,
                    "impute": None if spec.required else float(np.median(present)),
                    "mean": float(present.mean()),
                    "std": float(present.std()),
                }
            )
        else:
            counts: Dict[str, int] = {}
            for v in values:
                if v is not None:
                    counts[v] = counts.get(v, 0) + 1
            vocabulary, mode = vocabulary_and_mode(counts)
            features.append(
                {
                    "name": spec.name,
                    "type": "categorical",
                    "required": spec.required,
                    "vocabulary": vocabulary,
                    "unknown": spec.unknown,
                    "impute": None if spec.required else mode,
                }
            )
    return features


def vocabulary_and_mode(counts: Dict[str, int]) -> Tuple[List[str], str]:
    """Sorted categories and the most frequent one (ties: the first in sorted order)."""
    vocabulary = sorted(counts)
    return vocabulary, max(vocabulary, key=lambda v: (counts[v], -vocabulary.index(v)))


def input_dim(features: Sequence[Dict[str, object]]) -> int:
    return sum(1 if f["type"] == "numeric" else len(f["vocabulary"]) for f in features)  # type: ignore[arg-type]


def transform(table: Table, features: Sequence[Dict[str, object]], channel: str = "data") -> np.ndarray:
    """Raw table -> float32 [n, D]. Computed in float64, cast once at the end."""
    blocks: List[np.ndarray] = []
    for f in features:
        name = str(f["name"])
        values = table.columns[name]
        if f["type"] == "numeric":
            v = np.asarray(values, dtype=np.float64).copy()
            missing = np.isnan(v)
            if missing.any():
                if f["required"] or f["impute"] is None:
                    raise DataCheckError(f"column '{name}' is required but has missing values (channel '{channel}')")
                v[missing] = float(f["impute"])  # type: ignore[arg-type]
            std = float(f["std"]) or 1.0  # type: ignore[arg-type]
            blocks.append(((v - float(f["mean"])) / std)[:, None])  # type: ignore[arg-type]
        else:
            vocabulary: List[str] = list(f["vocabulary"])  # type: ignore[arg-type]
            position = {v: i for i, v in enumerate(vocabulary)}
            block = np.zeros((table.n, len(vocabulary)), dtype=np.float64)
            for row, v in enumerate(values):
                if v is None:
                    if f["required"] or f["impute"] is None:
                        raise DataCheckError(
                            f"column '{name}' is required but has missing values (channel '{channel}')"
                        )
                    v = f["impute"]
                col = position.get(v)  # type: ignore[arg-type]
                if col is None:
                    if f["unknown"] == "error":
                        raise DataCheckError(
                            f"column '{name}' has category {v!r} not seen in the training split (channel '{channel}')"
                        )
                    continue
                block[row, col] = 1.0
            blocks.append(block)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def table_from_instances(instances: Sequence[Dict[str, object]], features: Sequence[Dict[str, object]]) -> Table:
    """JSON-style instances (missing key or None = missing) -> Table, for golden vectors."""
    table = Table(n=len(instances))
    for f in features:
        name = str(f["name"])
        if f["type"] == "numeric":
            table.columns[name] = np.array(
                [math.nan if inst.get(name) is None else float(inst[name]) for inst in instances],  # type: ignore[arg-type]
                dtype=np.float64,
            )
        else:
            table.columns[name] = [inst.get(name) for inst in instances]
    return table


def bucket_fractions(values: np.ndarray, edges: Sequence[float]) -> List[float]:
    """Bucket i holds edges[i-1] < v <= edges[i]; bucket 0 is v <= edges[0]; the last v > edges[-1]."""
    if values.size == 0:
        return [0.0] * (len(edges) + 1)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [float(c) / values.size for c in counts]


def quantile_edges(values: np.ndarray) -> List[float]:
    if values.size == 0:
        return []
    return [float(e) for e in np.unique(np.quantile(values, QUANTILES))]


def reference_statistics(
    train: Table, features: Sequence[Dict[str, object]], tracked_prediction: np.ndarray
) -> Dict[str, object]:
    stats: Dict[str, object] = {}
    for f in features:
        name = str(f["name"])
        values = train.columns[name]
        if f["type"] == "numeric":
            missing = np.isnan(values)
            present = values[~missing]
            edges = quantile_edges(present)
            stats[name] = {
                "type": "numeric",
                "edges": edges,
                "fractions": bucket_fractions(present, edges),
                "missing": float(missing.mean()),
            }
        else:
            present_values = [v for v in values if v is not None]
            total = max(len(present_values), 1)
            vocabulary: List[str] = list(f["vocabulary"])  # type: ignore[arg-type]
            known = set(vocabulary)
            stats[name] = {
                "type": "categorical",
                "fractions": {v: sum(1 for x in present_values if x == v) / total for v in vocabulary},
                "unknown": sum(1 for x in present_values if x not in known) / total,
                "missing": (train.n - len(present_values)) / max(train.n, 1),
            }
    tracked = np.asarray(tracked_prediction, dtype=np.float64)
    edges = quantile_edges(tracked)
    return {
        "n": train.n,
        "features": stats,
        "prediction": {"edges": edges, "fractions": bucket_fractions(tracked, edges)},
    }
