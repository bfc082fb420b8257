"""The label column as the network learns it and as the metrics compare it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np
import torch

from .data import Table


@dataclass(frozen=True)
class Target:
    column: str
    labels: List[str]  # classification labels, index = output column; [] for regression
    # Regression: the network learns (y - mean) / std, fitted on the training split; the
    # exported graph and every predictor undo it, so predictions are in the label's units.
    mean: float = 0.0
    std: float = 1.0

    @property
    def regression(self) -> bool:
        return not self.labels

    @staticmethod
    def fit(column: str, labels: List[str], train: Table) -> "Target":
        if labels:
            return Target(column, labels)
        y = np.asarray(train.columns[column], dtype=np.float64)
        return Target(column, [], float(y.mean()), float(y.std()) or 1.0)

    def values(self, table: Table) -> np.ndarray:
        """What metrics compare with: label indices (int64), or the values (float64)."""
        if self.regression:
            return np.asarray(table.columns[self.column], dtype=np.float64)
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[v] for v in table.columns[self.column]], dtype=np.int64)

    def tensor(self, table: Table) -> torch.Tensor:
        """What the network learns: label indices, or the standardized value as an [n, 1] column."""
        values = self.values(table)
        if self.regression:
            return torch.from_numpy(((values - self.mean) / self.std).astype(np.float32)).unsqueeze(1)
        return torch.from_numpy(values)

    def unscale(self, outputs: np.ndarray) -> np.ndarray:
        return outputs * self.std + self.mean if self.regression else outputs

    def split_key(self, table: Table) -> List[object]:
        """What splits are stratified on: the label, or nothing (a random split) for regression."""
        return [""] * table.n if self.regression else list(table.columns[self.column])
