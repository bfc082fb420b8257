"""Data sets other than the sample: no schema.json, more than two classes."""

import json
import os
import unittest

from .helpers import make_root, train_in_process


def drop_schema(root):
    os.remove(os.path.join(root, "input", "data", "train", "schema.json"))


class SchemaTest(unittest.TestCase):
    def test_infers_types_and_required_without_a_schema(self):
        root = make_root(rows=800)
        drop_schema(root)
        manifest = train_in_process(root, epochs=2, target="outcome", model_name="Churn Model")
        features = {f["name"]: f for f in manifest["features"]}
        self.assertEqual(manifest["name"], "churn-model")
        self.assertEqual(features["tenure_months"]["type"], "numeric")
        self.assertFalse(features["tenure_months"]["required"])  # it has missing values
        self.assertTrue(features["monthly_charges"]["required"])
        self.assertEqual(features["plan"]["vocabulary"], ["basic", "enterprise", "pro"])
        self.assertEqual(features["plan"]["unknown"], "ignore")
        self.assertEqual(manifest["output"]["labels"], ["churn", "stay"])
        self.assertEqual(manifest["output"]["positive_label"], "stay")
        self.assertNotIn("segments", manifest["metrics"])

    def test_multiclass_labels_give_a_multiclass_bundle(self):
        def three_plans_as_label(data):
            for row in data:
                row["outcome"] = row["plan"]

        def schema(s):
            s["labels"] = None
            s["positive_label"] = None
            s["features"] = [f for f in s["features"] if f["name"] != "plan"]

        root = make_root(rows=1200, mutate_rows=three_plans_as_label, mutate_schema=schema)
        manifest = train_in_process(root, epochs=25, lr=0.01)
        self.assertEqual(manifest["task"], "multiclass_classification")
        self.assertEqual(manifest["output"], {"labels": ["basic", "enterprise", "pro"]})  # no threshold
        self.assertEqual(set(manifest["metrics"]["baselines"]), {"majority", "logistic_regression"})
        self.assertEqual(len(manifest["metrics"]["test"]["confusion_matrix"]), 3)
        with open(os.path.join(root, "model", "golden.json"), encoding="utf-8") as f:
            golden = json.load(f)
        self.assertTrue(all(len(c["output"]) == 3 for c in golden["cases"]))
        # monthly_charges depends on the plan: the network should learn it.
        self.assertGreater(manifest["metrics"]["test"]["accuracy"], 0.8)


if __name__ == "__main__":
    unittest.main()
