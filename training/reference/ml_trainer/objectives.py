"""The team's objective: the primary metric, its parameter and target, the decision threshold
that optimizes it, and the verdict (docs/model-bundle.md "Quality").

OBJECTIVE_METRICS is the same table as serving/src/bundle/quality.ts (the one the team file,
the launcher, the service and the publish check use); a test checks that they agree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from .contract import Hyperparameters

OBJECTIVE_METRICS: Dict[str, Dict[str, object]] = {
    "roc_auc": {"better": "higher", "parameter": None, "task": "classification", "range": [0, 1]},
    "f1": {"better": "higher", "parameter": None, "task": "classification", "range": [0, 1]},
    "precision_at_recall": {"better": "higher", "parameter": "recall", "task": "binary", "range": [0, 1]},
    "recall_at_precision": {"better": "higher", "parameter": "precision", "task": "binary", "range": [0, 1]},
    "accuracy": {"better": "higher", "parameter": None, "task": "classification", "range": [0, 1]},
    "mae": {"better": "lower", "parameter": None, "task": "regression", "range": [0, sys.float_info.max]},
    "rmse": {"better": "lower", "parameter": None, "task": "regression", "range": [0, sys.float_info.max]},
}
DEFAULT_METRIC = {"classification": "f1", "regression": "rmse"}


@dataclass(frozen=True)
class Objective:
    metric: str
    parameter: Optional[float]
    target: Optional[float]
    default: bool = False  # no objective was given: the trainer's default

    @property
    def higher_is_better(self) -> bool:
        return OBJECTIVE_METRICS[self.metric]["better"] == "higher"

    def describe(self) -> str:
        kind = OBJECTIVE_METRICS[self.metric]["parameter"]
        return f"{self.metric} ({kind} >= {self.parameter:g})" if kind else self.metric

    def improvement(self, candidate: float, reference: float) -> float:
        """Positive when `candidate` is better than `reference`."""
        return candidate - reference if self.higher_is_better else reference - candidate

    def record(self) -> Dict[str, object]:
        return {"metric": self.metric, "parameter": self.parameter, "target": self.target}


def _number(name: str, raw: str) -> Optional[float]:
    if raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"hyperparameter '{name}' must be a number, got {raw!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"hyperparameter '{name}' must be a finite number, got {raw!r}")
    return value


def objective_from(hp: Hyperparameters, task: str) -> Objective:
    """The objective of the hyperparameters for a `binary`, `multiclass` or `regression` task,
    checked like the team file checks it."""
    metric = hp.objective_metric or DEFAULT_METRIC["regression" if task == "regression" else "classification"]
    if metric not in OBJECTIVE_METRICS:
        raise ValueError(
            f"hyperparameter 'objective_metric': unknown metric {metric!r}: use one of {', '.join(OBJECTIVE_METRICS)}"
        )
    spec = OBJECTIVE_METRICS[metric]
    parameter = _number("objective_parameter", hp.objective_parameter)
    target = _number("objective_target", hp.objective_target)
    if spec["parameter"] and parameter is None:
        raise ValueError(
            f"hyperparameter 'objective_parameter': {metric} needs a parameter: the minimum {spec['parameter']}, in (0, 1]"
        )
    if not spec["parameter"] and parameter is not None:
        raise ValueError(f"hyperparameter 'objective_parameter': {metric} takes no parameter")
    if parameter is not None and not 0 < parameter <= 1:
        raise ValueError(
            f"hyperparameter 'objective_parameter': must be a {spec['parameter']} in (0, 1], got {parameter:g}"
        )
    lo, hi = spec["range"]  # type: ignore[misc]
    if target is not None and not lo <= target <= hi:
        raise ValueError(f"hyperparameter 'objective_target': must be in [{lo}, {hi}] for {metric}, got {target:g}")
    if (spec["task"] == "regression") != (task == "regression"):
        wanted = "a numeric label (task regression)" if spec["task"] == "regression" else "a classification label"
        raise ValueError(f"hyperparameter 'objective_metric': {metric} needs {wanted}; this is a {task} task")
    if spec["task"] == "binary" and task != "binary":
        raise ValueError(f"hyperparameter 'objective_metric': {metric} needs a binary label (this one has more classes)")
    return Objective(metric, parameter, target, default=not hp.objective_metric)


def operating_points(is_positive: np.ndarray, score: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct decision rule `score >= t` on these rows, from the strictest to "all positive".

    Returns (thresholds, true positives, false positives). A threshold sits halfway between two
    adjacent distinct scores (the last one is 0: every row positive), so it separates the rows
    the same way wherever the scores come from within float rounding.
    """
    y = np.asarray(is_positive, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    last = np.r_[np.nonzero(s[1:] != s[:-1])[0], s.size - 1]  # last row of each run of equal scores
    distinct = s[last]
    thresholds = np.r_[(distinct[:-1] + distinct[1:]) / 2, 0.0]
    return thresholds, tp[last].astype(np.float64), fp[last].astype(np.float64)


def _rates(tp: np.ndarray, fp: np.ndarray, n_pos: float) -> Tuple[np.ndarray, np.ndarray]:
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / n_pos if n_pos else np.zeros_like(tp)
    return precision, recall


def choose_threshold(objective: Objective, is_positive: np.ndarray, score: np.ndarray) -> Dict[str, object]:
    """The threshold on P(positive) that optimizes the objective on these (validation) rows.

    precision_at_recall: the highest precision whose recall is at least the parameter (ties:
    the higher recall); recall_at_precision: the highest recall whose precision is at least the
    parameter, or the highest precision when none reaches it; f1 and accuracy: their maximum;
    roc_auc does not depend on a threshold, so it takes the one with the best F1.
    """
    y = np.asarray(is_positive, dtype=bool)
    thresholds, tp, fp = operating_points(y, score)
    n, n_pos = float(y.size), float(y.sum())
    precision, recall = _rates(tp, fp, n_pos)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    satisfied = True
    if objective.metric == "precision_at_recall":
        ok = recall >= objective.parameter - 1e-12
        key = np.where(ok, precision, -1.0)
        best = _argmax_with_tiebreak(key, recall)
    elif objective.metric == "recall_at_precision":
        ok = precision >= objective.parameter - 1e-12
        satisfied = bool(ok.any())
        best = _argmax_with_tiebreak(np.where(ok, recall, -1.0), precision) if satisfied else _argmax_with_tiebreak(precision, recall)
    elif objective.metric == "accuracy":
        best = _argmax_with_tiebreak((tp + (n - n_pos - fp)) / n, f1)
    else:
        best = _argmax_with_tiebreak(f1, recall)
    return {
        "threshold": float(thresholds[best]),
        "precision": float(precision[best]),
        "recall": float(recall[best]),
        "constraint_met": satisfied,
    }


def _argmax_with_tiebreak(key: np.ndarray, tiebreak: np.ndarray) -> int:
    top = key >= key.max() - 1e-12
    return int(np.flatnonzero(top)[np.argmax(tiebreak[top])])


def precision_at_recall(is_positive: np.ndarray, score: np.ndarray, min_recall: float) -> float:
    """The highest precision any threshold reaches with recall >= min_recall on these rows."""
    _, tp, fp = operating_points(is_positive, score)
    precision, recall = _rates(tp, fp, float(np.sum(is_positive)))
    ok = recall >= min_recall - 1e-12
    return float(precision[ok].max()) if ok.any() else 0.0


def recall_at_precision(is_positive: np.ndarray, score: np.ndarray, min_precision: float) -> float:
    """The highest recall any threshold reaches with precision >= min_precision (0 when none does)."""
    _, tp, fp = operating_points(is_positive, score)
    precision, recall = _rates(tp, fp, float(np.sum(is_positive)))
    ok = precision >= min_precision - 1e-12
    return float(recall[ok].max()) if ok.any() else 0.0


def primary_value(objective: Objective, metrics: Dict[str, object], is_positive: Optional[np.ndarray], score: Optional[np.ndarray]) -> Optional[float]:
    """The objective's metric on these rows: threshold metrics come from `metrics` (computed at
    the decision threshold); precision_at_recall and recall_at_precision from the scores."""
    if objective.metric == "precision_at_recall":
        return precision_at_recall(is_positive, score, objective.parameter)  # type: ignore[arg-type]
    if objective.metric == "recall_at_precision":
        return recall_at_precision(is_positive, score, objective.parameter)  # type: ignore[arg-type]
    value = metrics[objective.metric]
    return None if value is None else float(value)  # type: ignore[arg-type]


def verdict(objective: Objective, value: Optional[float], baselines: Dict[str, Optional[float]]) -> Dict[str, object]:
    """Target met or missed, and the margin over the best baseline (positive = the model is better)."""
    scored = {name: v for name, v in baselines.items() if v is not None}
    best_name: Optional[str] = None
    if scored:
        best_name = max(scored, key=lambda name: scored[name] if objective.higher_is_better else -scored[name])
    margin = objective.improvement(value, scored[best_name]) if value is not None and best_name else None
    return {
        "value": value,
        "target_met": None if objective.target is None or value is None else objective.improvement(value, objective.target) >= 0,
        "best_baseline": best_name,
        "best_baseline_value": scored[best_name] if best_name else None,
        "margin": margin,
        "beats_baselines": None if margin is None else margin > 0,
    }
