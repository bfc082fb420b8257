"""A numeric label (schema.json "task": "regression"): an MLP regressor, the mean and linear
regression baselines, lower-is-better objectives, and a bundle that follows the contract."""

import json
import os
import unittest

import numpy as np
import onnx

from .helpers import make_root, run_trainer, train_in_process
from .test_bundle_contract import run_onnx_numpy


def monthly_spend(rows):
    """A label that is linear in the features plus noise: a linear model is optimal."""
    rng = np.random.RandomState(3)
    for row in rows:
        tenure = row["tenure_months"] if row["tenure_months"] is not None else 14
        row["outcome"] = round(
            20 + 0.6 * row["monthly_charges"] - 0.1 * tenure + {"eu": 0, "us": 5, "apac": -5}[row["region"]]
            + rng.normal(0, 3),
            3,
        )


def regression_schema(schema):
    schema.update(task="regression", labels=None, positive_label=None, name="spend")


class RegressionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = make_root(rows=3000, mutate_rows=monthly_spend, mutate_schema=regression_schema)
        cls.manifest = train_in_process(cls.root, objective_target="4.0")
        model_dir = os.path.join(cls.root, "model")
        with open(os.path.join(model_dir, "golden.json"), encoding="utf-8") as f:
            cls.golden = json.load(f)
        cls.onnx = onnx.load(os.path.join(model_dir, "model.onnx"))
        with open(os.path.join(model_dir, "model_card.md"), encoding="utf-8") as f:
            cls.card = f.read()

    def test_the_bundle_is_a_regression_bundle(self):
        m = self.manifest
        self.assertEqual(m["task"], "regression")
        self.assertEqual(m["output"], {"labels": []})
        self.assertEqual(m["model"]["output_name"], "prediction")
        self.assertEqual(set(m["metrics"]["test"]), {"mae", "rmse", "r2", "n"})
        self.assertEqual(set(m["metrics"]["segments"]["values"]["eu"]), {"mae", "rmse", "r2", "n"})
        self.assertEqual([o.name for o in self.onnx.graph.output], ["prediction"])
        x = np.array([c["features"] for c in self.golden["cases"]], dtype=np.float32)
        y = run_onnx_numpy(self.onnx, x)
        self.assertEqual(y.shape, (len(self.golden["cases"]), 1))
        expected = np.array([c["output"] for c in self.golden["cases"]])
        # float32 rounding grows with the value: the tolerance is relative to the largest output
        self.assertAlmostEqual(self.golden["atol"], 1e-5 * np.abs(expected).max())
        np.testing.assert_allclose(y, expected, rtol=0, atol=self.golden["atol"])
        self.assertTrue(all("label" not in c for c in self.golden["cases"]))

    def test_predictions_are_in_the_labels_units(self):
        # The network learns the standardized label; the graph undoes it.
        self.assertLess(self.manifest["metrics"]["test"]["rmse"], 5.0)
        self.assertGreater(self.manifest["metrics"]["test"]["r2"], 0.9)

    def test_mean_and_linear_regression_baselines_on_the_same_rows(self):
        baselines = self.manifest["metrics"]["baselines"]
        self.assertEqual(set(baselines), {"linear_regression", "mean"})
        test = self.manifest["metrics"]["test"]
        for b in baselines.values():
            self.assertEqual(b["test"]["n"], test["n"])
            self.assertNotIn("threshold", b)
        self.assertLess(baselines["mean"]["test"]["r2"], 0.01)  # the mean explains nothing
        # Noise std 3 and a linear truth: least squares is optimal, the network comes close.
        self.assertAlmostEqual(baselines["linear_regression"]["test"]["rmse"], 3.0, delta=0.3)
        self.assertLess(test["rmse"], baselines["linear_regression"]["test"]["rmse"] * 1.25)

    def test_the_default_objective_is_rmse_and_lower_is_better(self):
        v = self.manifest["metrics"]["verdict"]
        self.assertEqual(self.manifest["metrics"]["objective"], {"metric": "rmse", "parameter": None, "target": 4.0})
        self.assertEqual(v["value"], self.manifest["metrics"]["test"]["rmse"])
        self.assertEqual(v["target_met"], v["value"] <= 4.0)
        self.assertEqual(v["best_baseline"], "linear_regression")
        self.assertAlmostEqual(v["margin"], v["best_baseline_value"] - v["value"])
        self.assertIn("| metric | model | linear_regression | mean |", self.card)
        self.assertIn("| **rmse** (objective) |", self.card)
        self.assertNotIn("Confusion matrix", self.card)
        self.assertNotIn("precision_recall.svg", self.card)

    def test_a_non_numeric_label_fails_naming_the_column(self):
        def text_label(rows):
            monthly_spend(rows)
            rows[5]["outcome"] = "lots"

        root = make_root(rows=400, mutate_rows=text_label, mutate_schema=regression_schema)
        result = run_trainer(root)
        self.assertEqual(result.returncode, 1)
        with open(os.path.join(root, "output", "failure"), encoding="utf-8") as f:
            self.assertEqual(
                f.read().strip(),
                "data check failed: label column 'outcome' is numeric (task regression) but has non-numeric "
                "value 'lots' (channel 'train', data row 6)",
            )

    def test_streaming_refuses_a_regression_data_set_by_name(self):
        # Without this check the shard scan would fail on a misleading class-count error.
        root = make_root(rows=400, mutate_rows=monthly_spend, mutate_schema=regression_schema)
        with self.assertRaises(ValueError) as caught:
            train_in_process(root, epochs=1, stream="on")
        self.assertEqual(
            str(caught.exception), "streaming (several processes or stream=on) supports classification only"
        )


if __name__ == "__main__":
    unittest.main()
