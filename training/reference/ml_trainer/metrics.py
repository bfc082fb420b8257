"""Classification and regression metrics in plain numpy (no scikit-learn in CI or in slim images).

Binary tasks report precision/recall/F1 of the positive class and its ROC-AUC; multiclass
tasks report macro averages and one-vs-rest macro ROC-AUC.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> Optional[float]:
    """Area under the ROC curve via the rank statistic (ties get average ranks). None if one class."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    i = 0
    while i < s.size:
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> List[List[int]]:
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m.tolist()


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def predict_labels(probabilities: np.ndarray, positive_index: Optional[int], threshold: Optional[float]) -> np.ndarray:
    """Label indices as the service assigns them: binary with a threshold, the positive label
    when P(positive) >= threshold (else the other one); otherwise argmax, first index on a tie."""
    if threshold is None or positive_index is None:
        return probabilities.argmax(axis=1)
    return np.where(probabilities[:, positive_index] >= threshold, positive_index, 1 - positive_index)


def classification_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, positive_index: Optional[int], threshold: Optional[float] = None
) -> Dict[str, object]:
    y_true = np.asarray(y_true, dtype=np.int64)
    n_classes = probabilities.shape[1]
    y_pred = predict_labels(probabilities, positive_index, threshold)
    cm = np.array(confusion_matrix(y_true, y_pred, n_classes))
    tp = np.diag(cm).astype(np.float64)
    precision_c = np.array([_safe_div(tp[c], cm[:, c].sum()) for c in range(n_classes)])
    recall_c = np.array([_safe_div(tp[c], cm[c, :].sum()) for c in range(n_classes)])
    f1_c = np.array(
        [_safe_div(2 * precision_c[c] * recall_c[c], precision_c[c] + recall_c[c]) for c in range(n_classes)]
    )
    if positive_index is not None:
        precision, recall, f1 = precision_c[positive_index], recall_c[positive_index], f1_c[positive_index]
        auc = roc_auc(y_true == positive_index, probabilities[:, positive_index])
    else:
        precision, recall, f1 = precision_c.mean(), recall_c.mean(), f1_c.mean()
        aucs = [roc_auc(y_true == c, probabilities[:, c]) for c in range(n_classes)]
        present = [a for a in aucs if a is not None]
        auc = float(np.mean(present)) if present else None
    return {
        "accuracy": float((y_pred == y_true).mean()) if y_true.size else 0.0,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": auc,
        "confusion_matrix": cm.tolist(),
        "n": int(y_true.size),
    }


def log_loss(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    p = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    return float(-np.log(p).mean())


def regression_metrics(y_true: np.ndarray, prediction: np.ndarray) -> Dict[str, object]:
    """Mean absolute error, root mean squared error and R² (None when the label is constant)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64).reshape(-1)
    error = p - y
    total = float(((y - y.mean()) ** 2).sum()) if y.size else 0.0
    return {
        "mae": float(np.abs(error).mean()) if y.size else 0.0,
        "rmse": float(np.sqrt((error**2).mean())) if y.size else 0.0,
        "r2": 1.0 - float((error**2).sum()) / total if total > 0 else None,
        "n": int(y.size),
    }
