"""The objective, the decision threshold, baselines, the verdict, class weights and
cross-validation (docs/model-bundle.md "Quality"), each checked by an independent computation."""

import csv
import json
import os
import unittest
from collections import Counter

import numpy as np

from ml_trainer.contract import Hyperparameters
from ml_trainer.data import stratified_split
from ml_trainer.objectives import Objective, choose_threshold, objective_from

from .helpers import make_root, train_in_process


def brute_force(is_positive, score):
    """(threshold, precision, recall, f1) of every rule `score >= t` with t a score on these rows."""
    out = []
    for t in sorted(set(score.tolist())):
        predicted = score >= t
        tp = float(np.sum(predicted & is_positive))
        precision = tp / predicted.sum()
        recall = tp / is_positive.sum()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((t, precision, recall, f1))
    return out


def at(threshold, is_positive, score):
    predicted = score >= threshold
    tp = float(np.sum(predicted & is_positive))
    return tp / max(predicted.sum(), 1), tp / is_positive.sum()


class ThresholdSearchTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.RandomState(5)
        self.cases = []
        for n in (60, 300, 2000):
            y = rng.rand(n) < 0.2
            score = np.clip(0.25 * y + rng.rand(n) * 0.8, 0, 1).astype(np.float32).astype(np.float64)
            score[: n // 10] = np.round(score[: n // 10], 1)  # ties
            self.cases.append((y, score))

    def test_precision_at_recall_is_the_best_precision_whose_recall_reaches_the_floor(self):
        for y, score in self.cases:
            for floor in (0.5, 0.9, 1.0):
                chosen = choose_threshold(Objective("precision_at_recall", floor, None), y, score)
                precision, recall = at(chosen["threshold"], y, score)
                self.assertGreaterEqual(recall, floor)
                best = max(p for _, p, r, _ in brute_force(y, score) if r >= floor)
                self.assertAlmostEqual(precision, best, places=12)
                self.assertAlmostEqual(chosen["precision"], precision, places=12)

    def test_recall_at_precision_is_the_best_recall_whose_precision_reaches_the_floor(self):
        for y, score in self.cases:
            chosen = choose_threshold(Objective("recall_at_precision", 0.5, None), y, score)
            precision, recall = at(chosen["threshold"], y, score)
            feasible = [r for _, p, r, _ in brute_force(y, score) if p >= 0.5]
            self.assertTrue(chosen["constraint_met"])
            self.assertGreaterEqual(precision, 0.5)
            self.assertAlmostEqual(recall, max(feasible), places=12)

    def test_an_unreachable_precision_floor_is_reported(self):
        y, score = np.array([True, False, True, False]), np.array([0.9, 0.9, 0.1, 0.1])
        chosen = choose_threshold(Objective("recall_at_precision", 0.99, None), y, score)
        self.assertFalse(chosen["constraint_met"])

    def test_f1_threshold_maximizes_f1(self):
        for y, score in self.cases:
            chosen = choose_threshold(Objective("f1", None, None), y, score)
            precision, recall = at(chosen["threshold"], y, score)
            f1 = 2 * precision * recall / (precision + recall)
            self.assertAlmostEqual(f1, max(f for *_, f in brute_force(y, score)), places=12)


class ObjectiveHyperparametersTest(unittest.TestCase):
    def check(self, message, task="binary", **hp):
        with self.assertRaises(ValueError) as caught:
            objective_from(Hyperparameters(**hp), task)
        self.assertEqual(str(caught.exception), message)

    def test_fails_naming_the_field(self):
        self.check(
            "hyperparameter 'objective_metric': unknown metric 'auc': use one of roc_auc, f1, precision_at_recall, "
            "recall_at_precision, accuracy, mae, rmse",
            objective_metric="auc",
        )
        self.check(
            "hyperparameter 'objective_parameter': must be a recall in (0, 1], got 1.5",
            objective_metric="precision_at_recall", objective_parameter="1.5",
        )
        self.check(
            "hyperparameter 'objective_parameter': precision_at_recall needs a parameter: the minimum recall, in (0, 1]",
            objective_metric="precision_at_recall",
        )
        self.check("hyperparameter 'objective_parameter': f1 takes no parameter", objective_metric="f1", objective_parameter="0.5")
        self.check(
            "hyperparameter 'objective_target': must be in [0, 1] for roc_auc, got 1.2",
            objective_metric="roc_auc", objective_target="1.2",
        )
        self.check("hyperparameter 'objective_target' must be a number, got 'high'", objective_target="high")
        self.check(
            "hyperparameter 'objective_metric': precision_at_recall needs a binary label (this one has more classes)",
            task="multiclass", objective_metric="precision_at_recall", objective_parameter="0.9",
        )
        self.check(
            "hyperparameter 'objective_metric': rmse needs a numeric label (task regression); this is a binary task",
            objective_metric="rmse",
        )
        self.check(
            "hyperparameter 'objective_metric': f1 needs a classification label; this is a regression task",
            task="regression", objective_metric="f1",
        )

    def test_the_default_objective_is_f1_without_a_target(self):
        objective = objective_from(Hyperparameters(), "binary")
        self.assertEqual((objective.metric, objective.parameter, objective.target, objective.default), ("f1", None, None, True))
        self.assertEqual(objective_from(Hyperparameters(), "regression").metric, "rmse")


def split_test_labels(root, seed=42):
    with open(os.path.join(root, "input", "data", "train", "train.csv"), encoding="utf-8") as f:
        labels = [r["outcome"] for r in csv.DictReader(f)]
    return [labels[i] for i in stratified_split(labels, [0.15, 0.15], seed)[2]]


class QualityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The sample data's label is a noisy logistic model of the features: a linear model is
        # optimal, so the network can only match the logistic baseline, not beat it by much.
        cls.root = make_root(rows=6000, seed=7)
        cls.manifest = train_in_process(
            cls.root, objective_metric="precision_at_recall", objective_parameter="0.9", objective_target="0.3"
        )
        cls.metrics = cls.manifest["metrics"]

    def test_baselines_are_computed_on_the_same_test_rows(self):
        labels = split_test_labels(self.root)
        counts = Counter(labels)
        for name, b in self.metrics["baselines"].items():
            self.assertEqual(b["test"]["n"], self.metrics["test"]["n"], name)
            self.assertEqual(np.sum(b["test"]["confusion_matrix"], axis=1).tolist(), [counts["stay"], counts["churn"]])
            self.assertGreater(b["train_seconds"], 0)
            self.assertGreater(b["inference_us_per_row"], 0)
        majority = self.metrics["baselines"]["majority"]["test"]
        self.assertAlmostEqual(majority["accuracy"], counts["stay"] / len(labels), places=12)
        self.assertEqual((majority["recall"], majority["roc_auc"]), (0.0, 0.5))
        # Precision at recall 0.9 of a constant score: only "all churn" reaches the recall.
        self.assertAlmostEqual(majority["precision_at_recall"], counts["churn"] / len(labels), places=12)

    def test_the_logistic_baseline_matches_the_network_where_a_linear_model_is_optimal(self):
        model, logistic = self.metrics["test"], self.metrics["baselines"]["logistic_regression"]["test"]
        self.assertAlmostEqual(model["roc_auc"], logistic["roc_auc"], delta=0.02)
        self.assertAlmostEqual(model["precision_at_recall"], logistic["precision_at_recall"], delta=0.05)
        self.assertGreater(logistic["roc_auc"], 0.75)

    def test_the_threshold_meets_the_recall_floor_on_validation(self):
        t = self.manifest["output"]["threshold"]
        validation = self.metrics["validation"]
        self.assertGreaterEqual(validation["recall"], 0.9)
        self.assertEqual(validation["precision"], validation["precision_at_recall"])
        self.assertLess(t, 0.5)

    def test_the_verdict_compares_the_test_value_with_the_target_and_the_best_baseline(self):
        v, test, baselines = self.metrics["verdict"], self.metrics["test"], self.metrics["baselines"]
        self.assertEqual(self.metrics["objective"], {"metric": "precision_at_recall", "parameter": 0.9, "target": 0.3})
        self.assertEqual(v["value"], test["precision_at_recall"])
        self.assertEqual(v["target_met"], test["precision_at_recall"] >= 0.3)
        best = max(baselines, key=lambda n: baselines[n]["test"]["precision_at_recall"])
        self.assertEqual(v["best_baseline"], best)
        self.assertAlmostEqual(v["margin"], test["precision_at_recall"] - baselines[best]["test"]["precision_at_recall"])
        self.assertEqual(v["beats_baselines"], v["margin"] > 0)
        with open(os.path.join(self.root, "model", "model_card.md"), encoding="utf-8") as f:
            card = f.read()
        self.assertIn("- objective: precision_at_recall (recall >= 0.9), target: 0.3000", card)
        self.assertIn(f"target 0.3000: **{'met' if v['target_met'] else 'missed'}**", card)
        self.assertIn("| **precision_at_recall (recall >= 0.9)** (objective) |", card)

    def test_permutation_importance_ranks_the_features_that_drive_the_label(self):
        importance = self.metrics["feature_importance"]
        self.assertEqual({r["feature"] for r in importance}, {f["name"] for f in self.manifest["features"]})
        self.assertEqual([r["mean"] for r in importance], sorted((r["mean"] for r in importance), reverse=True))
        # support_tickets (0.35 per ticket) and tenure (-0.045 per month) dominate the generator's logit.
        self.assertEqual({r["feature"] for r in importance[:2]}, {"support_tickets", "tenure_months"})


class ClassWeightAndCrossValidationTest(unittest.TestCase):
    def test_balanced_class_weights_move_the_predicted_probabilities_towards_the_rare_class(self):
        plain = train_in_process(make_root(rows=1500), epochs=8)
        balanced = train_in_process(make_root(rows=1500), epochs=8, class_weight="balanced")
        # Reference prediction statistic = P(churn) on the training split; its buckets shift up.
        def mean_p(manifest):
            ref = manifest["reference"]["prediction"]
            mids = [ref["edges"][0]] + [(a + b) / 2 for a, b in zip(ref["edges"], ref["edges"][1:])] + [ref["edges"][-1]]
            return sum(m * f for m, f in zip(mids, ref["fractions"]))

        self.assertGreater(mean_p(balanced), mean_p(plain) + 0.15)
        self.assertGreater(balanced["output"]["threshold"], plain["output"]["threshold"])

    def test_unknown_class_weight_fails_naming_it(self):
        with self.assertRaisesRegex(ValueError, "hyperparameter 'class_weight' must be none or balanced, got 'auto'"):
            train_in_process(make_root(rows=400), epochs=1, class_weight="auto")

    def test_cross_validation_reports_each_fold_and_keeps_the_final_model(self):
        a, b = make_root(rows=1200), make_root(rows=1200)
        without = train_in_process(a, epochs=3)
        with_cv = train_in_process(b, epochs=3, cv_folds=3)
        cv = with_cv["metrics"]["cv"]
        self.assertEqual((cv["folds"], cv["metric"]), (3, "f1"))
        for name in ("model", "logistic_regression"):
            values = cv[name]["values"]
            self.assertEqual(len(values), 3)
            self.assertAlmostEqual(cv[name]["mean"], float(np.mean(values)))
            self.assertAlmostEqual(cv[name]["std"], float(np.std(values)))
        # The exported model is still the one trained on the whole training split.
        self.assertEqual(without["model"]["sha256"], with_cv["model"]["sha256"])
        self.assertNotIn("cv", without["metrics"])
        with open(os.path.join(b, "model", "model_card.md"), encoding="utf-8") as f:
            self.assertIn("## Cross-validation (3 folds of the training split)", f.read())


if __name__ == "__main__":
    unittest.main()
