"""Judging a model against its objective: the decision threshold chosen on validation, test
metrics at that threshold, baselines on the same rows, permutation feature importance and
k-fold cross-validation (guide 4.1-4.4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from . import objectives, preprocess
from .baselines import Predictor
from .contract import Hyperparameters
from .data import Schema, Table, stratified_split
from .metrics import classification_metrics, log_loss, regression_metrics
from .objectives import Objective
from .target import Target

Predict = Callable[[np.ndarray], np.ndarray]
IMPORTANCE_REPEATS = 5


@dataclass
class Assessment:
    threshold: Optional[float]  # binary tasks whose predictor has a threshold to choose
    threshold_choice: Optional[Dict[str, object]]  # precision and recall on validation at it
    validation: Dict[str, object]
    test: Dict[str, object]
    test_probabilities: np.ndarray
    validation_probabilities: np.ndarray


def _scores(probabilities: np.ndarray, y: np.ndarray, positive_index: Optional[int]):
    if positive_index is None:
        return None, None
    return y == positive_index, probabilities[:, positive_index]


def is_regression(outputs: np.ndarray) -> bool:
    """A regression predictor answers one column; a classifier one probability per label (>= 2)."""
    return outputs.shape[1] == 1


def metrics_at(
    objective: Objective, y: np.ndarray, outputs: np.ndarray, positive_index: Optional[int], threshold: Optional[float]
) -> Dict[str, object]:
    """The standard metrics (at the decision threshold), plus the objective's metric by its name."""
    if is_regression(outputs):
        m = regression_metrics(y, outputs)
        return m
    probabilities = outputs
    m = classification_metrics(y, probabilities, positive_index, threshold)
    is_positive, score = _scores(probabilities, y, positive_index)
    m[objective.metric] = objectives.primary_value(objective, m, is_positive, score)
    return m


def assess(
    objective: Objective,
    predict: Predict,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    positive_index: Optional[int],
    tune_threshold: bool,
) -> Assessment:
    val_p, test_p = predict(x_val), predict(x_test)
    threshold: Optional[float] = None
    choice: Optional[Dict[str, object]] = None
    if positive_index is not None and tune_threshold:
        is_positive, score = _scores(val_p, y_val, positive_index)
        choice = objectives.choose_threshold(objective, is_positive, score)
        threshold = float(choice["threshold"])
    val = metrics_at(objective, y_val, val_p, positive_index, threshold)
    if is_regression(val_p):
        validation: Dict[str, object] = {"mae": val["mae"], "rmse": val["rmse"]}
    else:
        validation = {"loss": log_loss(y_val, val_p), "accuracy": val["accuracy"]}
    if positive_index is not None:
        validation.update(precision=val["precision"], recall=val["recall"])
    validation[objective.metric] = val[objective.metric]
    return Assessment(threshold, choice, validation, metrics_at(objective, y_test, test_p, positive_index, threshold), test_p, val_p)


def feature_blocks(features: Sequence[Dict[str, object]]) -> List[slice]:
    """The columns of the preprocessed vector that belong to each raw feature."""
    blocks, start = [], 0
    for f in features:
        width = 1 if f["type"] == "numeric" else len(f["vocabulary"])  # type: ignore[arg-type]
        blocks.append(slice(start, start + width))
        start += width
    return blocks


def permutation_importance(
    objective: Objective,
    predict: Predict,
    x_test: np.ndarray,
    y_test: np.ndarray,
    features: Sequence[Dict[str, object]],
    positive_index: Optional[int],
    threshold: Optional[float],
    seed: int,
) -> List[Dict[str, object]]:
    """How much the objective's metric drops on the test split when one raw feature's values
    are shuffled across rows (all its one-hot columns together); mean and std over repeats,
    most important first."""
    def value(x: np.ndarray) -> Optional[float]:
        return metrics_at(objective, y_test, predict(x), positive_index, threshold)[objective.metric]  # type: ignore[return-value]

    base = value(x_test)
    rng = np.random.RandomState(seed)
    out = []
    for f, block in zip(features, feature_blocks(features)):
        drops = []
        for _ in range(IMPORTANCE_REPEATS):
            shuffled = x_test.copy()
            shuffled[:, block] = x_test[rng.permutation(x_test.shape[0])][:, block]
            v = value(shuffled)
            if base is not None and v is not None:
                drops.append(objective.improvement(base, v))
        if drops:
            out.append({"feature": str(f["name"]), "mean": float(np.mean(drops)), "std": float(np.std(drops))})
    return sorted(out, key=lambda r: (-r["mean"], r["feature"]))


def cross_validate(
    hp: Hyperparameters,
    objective: Objective,
    train_table: Table,
    val_table: Table,
    schema: Schema,
    target: Target,
    positive_index: Optional[int],
    fit: Callable[[Target, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], List[Predictor]],
    log: Callable[[str], None],
) -> Dict[str, object]:
    """k stratified folds of the training split: each fold's rows are held out while the
    predictors train on the others (preprocessing refitted), early stopping and the threshold
    still use the validation split, and the objective's metric is measured on the held-out fold.
    The exported model is not one of these: it is trained on the whole training split."""
    k = hp.cv_folds
    if k < 2:
        raise ValueError(f"hyperparameter 'cv_folds' must be 0 (off) or at least 2, got {k}")
    folds = stratified_split(target.split_key(train_table), [1.0 / k] * (k - 1), hp.seed)
    values: Dict[str, List[Optional[float]]] = {}
    for i, held_out in enumerate(folds):
        rest = sorted(j for fold in folds if fold is not held_out for j in fold)
        fit_table, fold_table = train_table.take(rest), train_table.take(held_out)
        features = preprocess.fit(fit_table, schema)
        fold_target = Target.fit(target.column, target.labels, fit_table)

        def x_of(table: Table) -> torch.Tensor:
            return torch.from_numpy(preprocess.transform(table, features, "train"))

        x_val = x_of(val_table)
        predictors = fit(fold_target, x_of(fit_table), fold_target.tensor(fit_table), x_val, fold_target.tensor(val_table))
        for p in predictors:
            a = assess(
                objective, p.predict, x_val.numpy(), fold_target.values(val_table),
                x_of(fold_table).numpy(), fold_target.values(fold_table), positive_index, p.tune_threshold,
            )
            values.setdefault(p.name, []).append(a.test[objective.metric])  # type: ignore[arg-type]
        log(
            f"cv fold {i + 1}/{k}: "
            + " ".join(f"{name}_{objective.metric}={'n/a' if v[-1] is None else f'{v[-1]:.6f}'}" for name, v in values.items())
        )
    summary: Dict[str, object] = {"folds": k, "metric": objective.metric}
    for name, v in values.items():
        present = [x for x in v if x is not None]
        summary[name] = {
            "mean": float(np.mean(present)) if present else None,
            "std": float(np.std(present)) if present else None,
            "values": v,
        }
    return summary
