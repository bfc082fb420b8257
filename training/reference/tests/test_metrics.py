"""Hand-written metrics against brute-force definitions."""

import itertools
import json
import os
import re
import unittest

import numpy as np

from ml_trainer.metrics import classification_metrics, confusion_matrix, roc_auc

from .helpers import REFERENCE_DIR


def auc_by_pairs(y, s):
    pos = [b for a, b in zip(y, s) if a]
    neg = [b for a, b in zip(y, s) if not a]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


class MetricsTest(unittest.TestCase):
    def test_roc_auc_matches_the_pairwise_definition_with_ties(self):
        rng = np.random.RandomState(0)
        for _ in range(20):
            y = rng.rand(60) < 0.3
            s = np.round(rng.rand(60), 1)  # many ties
            self.assertAlmostEqual(roc_auc(y, s), auc_by_pairs(y, s), places=12)

    def test_roc_auc_is_none_with_one_class(self):
        self.assertIsNone(roc_auc(np.array([True, True]), np.array([0.1, 0.2])))

    def test_binary_metrics_are_those_of_the_positive_class(self):
        y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
        p1 = np.array([0.1, 0.6, 0.2, 0.9, 0.8, 0.3, 0.7, 0.4])
        m = classification_metrics(y, np.stack([1 - p1, p1], axis=1), positive_index=1)
        self.assertEqual(m["confusion_matrix"], [[3, 1], [1, 3]])
        self.assertEqual((m["accuracy"], m["precision"], m["recall"], m["f1"], m["n"]), (0.75, 0.75, 0.75, 0.75, 8))
        self.assertAlmostEqual(m["roc_auc"], auc_by_pairs(y == 1, p1))

    def test_multiclass_metrics_are_macro_averages(self):
        y = np.array([0, 1, 2, 2])
        p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7]])
        m = classification_metrics(y, p, positive_index=None)
        self.assertEqual(confusion_matrix(y, p.argmax(axis=1), 3), [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
        self.assertAlmostEqual(m["precision"], (1 + 0.5 + 1) / 3)
        self.assertAlmostEqual(m["recall"], (1 + 1 + 0.5) / 3)

    def test_metric_definitions_match_the_trainer_log_lines(self):
        with open(os.path.join(REFERENCE_DIR, "metric_definitions.json"), encoding="utf-8") as f:
            definitions = json.load(f)
        lines = (
            "epoch=3 train_loss=0.412300 val_loss=0.381200 val_accuracy=0.881200 lr=0.003 val_roc_auc=0.812300\n"
            "test_accuracy=0.91 test_precision=0.74 test_recall=0.62 test_f1=0.67 test_roc_auc=0.93\n"
        )
        found = {d["Name"]: float(re.search(d["Regex"], lines).group(1)) for d in definitions}
        self.assertEqual(found["train:loss"], 0.4123)
        self.assertEqual(found["validation:loss"], 0.3812)
        self.assertEqual(found["validation:accuracy"], 0.8812)
        self.assertEqual(found["test:roc_auc"], 0.93)


if __name__ == "__main__":
    unittest.main()
