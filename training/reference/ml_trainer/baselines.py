"""Simple models trained on the same split as the network, so its metrics mean something
(guide 3.1 and 4.4: if the complex model is not much better, maybe you do not need it).

- majority: the training split's class frequencies for every row, i.e. always the most
  common label (ROC-AUC 0.5);
- logistic_regression: softmax regression on the same preprocessed features, full-batch
  L-BFGS with the network's weight decay and class weights, deterministic on CPU;
- regression: mean (the training split's mean for every row) and linear_regression
  (ordinary least squares on the same preprocessed features).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

LBFGS_STEPS = 100


@dataclass
class Predictor:
    """A fitted model, the network or a baseline, as the evaluation sees it."""

    name: str
    predict: Callable[[np.ndarray], np.ndarray]  # preprocessed float32 rows -> probabilities
    train_seconds: float
    tune_threshold: bool  # False for majority: it predicts one label, there is no threshold to choose


def majority(y_train: np.ndarray, n_classes: int) -> Predictor:
    started = time.perf_counter()
    prior = (np.bincount(y_train, minlength=n_classes) / y_train.size).astype(np.float32)
    seconds = time.perf_counter() - started
    return Predictor("majority", lambda x: np.tile(prior, (x.shape[0], 1)), seconds, tune_threshold=False)


def logistic_regression(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    n_classes: int,
    weight_decay: float,
    weights: Optional[torch.Tensor],
    seed: int,
) -> Predictor:
    torch.manual_seed(seed)
    started = time.perf_counter()
    model = nn.Linear(x_train.shape[1], n_classes).double()
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    x = x_train.double()
    criterion = nn.CrossEntropyLoss(weight=None if weights is None else weights.double())
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=LBFGS_STEPS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = criterion(model(x), y_train) + 0.5 * weight_decay * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    model = model.float().eval()
    seconds = time.perf_counter() - started

    def predict(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(rows)), dim=1).numpy()

    return Predictor("logistic_regression", predict, seconds, tune_threshold=True)


def mean(y_train: np.ndarray) -> Predictor:
    started = time.perf_counter()
    value = np.float32(np.mean(y_train))
    seconds = time.perf_counter() - started
    return Predictor("mean", lambda x: np.full((x.shape[0], 1), value, dtype=np.float32), seconds, tune_threshold=False)


def linear_regression(x_train: np.ndarray, y_train: np.ndarray) -> Predictor:
    started = time.perf_counter()
    design = np.hstack([x_train.astype(np.float64), np.ones((x_train.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design, np.asarray(y_train, dtype=np.float64), rcond=None)
    w, b = coef[:-1].astype(np.float32), np.float32(coef[-1])
    seconds = time.perf_counter() - started
    return Predictor("linear_regression", lambda x: (x @ w + b).reshape(-1, 1), seconds, tune_threshold=False)


def inference_us_per_row(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rounds: int = 3) -> float:
    """Best of `rounds` over the whole batch, in microseconds per row, on this machine."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        predict(x)
        best = min(best, time.perf_counter() - started)
    return best / max(x.shape[0], 1) * 1e6
