"""The bundle the trainer writes follows docs/model-bundle.md.

Preprocessing and the bucket rule are re-implemented here from the document's text, on
purpose independently of ml_trainer.preprocess, and the ONNX graph is evaluated with a small
numpy interpreter, so the golden vectors are checked by something other than their writer.
"""

import hashlib
import json
import os
import unittest

import numpy as np
import onnx
from onnx import numpy_helper

from .helpers import make_root, train_in_process

MANIFEST_KEYS = {
    "schema_version", "name", "version", "created_at", "framework", "task", "model",
    "features", "output", "metrics", "reference", "golden",
}


def preprocess_per_contract(instance, features):
    out = []
    for f in features:
        v = instance.get(f["name"])
        if f["type"] == "numeric":
            if v is None:
                assert not f["required"], f["name"]
                v = f["impute"]
            else:
                assert isinstance(v, (int, float)) and not isinstance(v, bool)
                if f["min"] is not None:
                    assert v >= f["min"]
                if f["max"] is not None:
                    assert v <= f["max"]
            std = f["std"] if f["std"] != 0 else 1.0
            out.append((float(v) - f["mean"]) / std)
        else:
            if v is None:
                assert not f["required"], f["name"]
                v = f["impute"]
            block = [0.0] * len(f["vocabulary"])
            if v in f["vocabulary"]:
                block[f["vocabulary"].index(v)] = 1.0
            else:
                assert f["unknown"] == "ignore", f["name"]
            out.extend(block)
    return np.array(out, dtype=np.float64).astype(np.float32)


def run_onnx_numpy(model, x):
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    values[model.graph.input[0].name] = x.astype(np.float32)
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        args = [values[i] for i in node.input if i]
        if node.op_type == "Gemm":
            a, b = args[0], args[1]
            a = a.T if attrs.get("transA") else a
            b = b.T if attrs.get("transB") else b
            y = attrs.get("alpha", 1.0) * (a @ b)
            if len(args) > 2:
                y = y + attrs.get("beta", 1.0) * args[2]
        elif node.op_type == "MatMul":
            y = args[0] @ args[1]
        elif node.op_type == "Add":
            y = args[0] + args[1]
        elif node.op_type == "Constant":
            y = numpy_helper.to_array(attrs["value"])
        elif node.op_type == "Mul":
            y = args[0] * args[1]
        elif node.op_type == "Relu":
            y = np.maximum(args[0], 0)
        elif node.op_type == "Softmax":
            z = args[0] - args[0].max(axis=attrs.get("axis", -1), keepdims=True)
            e = np.exp(z)
            y = e / e.sum(axis=attrs.get("axis", -1), keepdims=True)
        elif node.op_type == "Identity":
            y = args[0]
        else:
            raise AssertionError(f"unexpected op {node.op_type}")
        values[node.output[0]] = y.astype(np.float32)
    return values[model.graph.output[0].name]


def bucket_per_contract(v, edges):
    if v <= edges[0]:
        return 0
    for i in range(1, len(edges)):
        if edges[i - 1] < v <= edges[i]:
            return i
    return len(edges)


class BundleContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = make_root(rows=2000, seed=11)
        train_in_process(cls.root, epochs=4)
        cls.model_dir = os.path.join(cls.root, "model")
        with open(os.path.join(cls.model_dir, "manifest.json"), encoding="utf-8") as f:
            cls.manifest = json.load(f)
        with open(os.path.join(cls.model_dir, "golden.json"), encoding="utf-8") as f:
            cls.golden = json.load(f)

    def test_bundle_has_the_contract_files(self):
        for name in ("model.onnx", "manifest.json", "golden.json", "model_card.md", "training_curve.svg"):
            self.assertTrue(os.path.isfile(os.path.join(self.model_dir, name)), name)
        with open(os.path.join(self.model_dir, "model_card.md"), encoding="utf-8") as f:
            card = f.read()
        self.assertIn("![training curve](training_curve.svg)", card)
        self.assertIn("| roc_auc |", card)
        self.assertIn("## Model vs baselines (test split)", card)
        self.assertIn("| metric | model | logistic_regression | majority |", card)
        self.assertIn("![precision-recall curve](precision_recall.svg)", card)
        import xml.etree.ElementTree as ET

        svg = ET.parse(os.path.join(self.model_dir, "precision_recall.svg")).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        self.assertEqual(len(svg.findall(f"{ns}polyline")), 2)  # validation and test curves
        self.assertEqual(len(svg.findall(f"{ns}circle")), 2)  # the chosen threshold on each

    def test_manifest_has_exactly_the_contract_keys(self):
        m = self.manifest
        self.assertEqual(set(m), MANIFEST_KEYS)
        self.assertEqual(m["schema_version"], 1)
        self.assertRegex(m["name"], r"^[a-z0-9-]{1,63}$")
        self.assertRegex(m["version"], r"^[A-Za-z0-9._-]{1,128}$")
        self.assertRegex(m["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(m["framework"]["onnx_opset"], 17)
        self.assertEqual(m["task"], "binary_classification")
        self.assertEqual(set(m["output"]), {"labels", "positive_label", "threshold"})
        self.assertEqual((m["output"]["labels"], m["output"]["positive_label"]), (["stay", "churn"], "churn"))
        self.assertTrue(0 <= m["output"]["threshold"] <= 1)
        self.assertEqual(
            set(m["metrics"]),
            {"objective", "test", "validation", "timing", "baselines", "verdict", "segments", "feature_importance"},
        )
        self.assertEqual(set(m["metrics"]["test"]), {"accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix", "n"})
        self.assertEqual(set(m["metrics"]["validation"]), {"loss", "accuracy", "precision", "recall", "f1"})
        self.assertEqual(m["metrics"]["objective"], {"metric": "f1", "parameter": None, "target": None})
        self.assertEqual(set(m["metrics"]["baselines"]), {"majority", "logistic_regression"})
        for name, b in m["metrics"]["baselines"].items():
            self.assertEqual(set(b) - {"threshold"}, {"test", "train_seconds", "inference_us_per_row"}, name)
        self.assertEqual(
            set(m["metrics"]["verdict"]),
            {"value", "target_met", "best_baseline", "best_baseline_value", "margin", "beats_baselines"},
        )
        self.assertEqual(m["metrics"]["segments"]["column"], "region")
        self.assertEqual(set(m["metrics"]["segments"]["values"]), {"eu", "us", "apac"})
        with open(os.path.join(self.model_dir, "model.onnx"), "rb") as f:
            self.assertEqual(m["model"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(m["golden"], "golden.json")
        for f in m["features"]:
            keys = {"name", "type", "required", "impute"}
            keys |= {"min", "max", "mean", "std"} if f["type"] == "numeric" else {"vocabulary", "unknown"}
            self.assertEqual(set(f), keys, f["name"])

    def test_onnx_graph_matches_the_contract(self):
        model = onnx.load(os.path.join(self.model_dir, "model.onnx"))
        onnx.checker.check_model(model)
        self.assertEqual([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")], [17])
        (inp,) = model.graph.input
        (out,) = model.graph.output
        self.assertEqual((inp.name, out.name), ("input", "probabilities"))
        dims = inp.type.tensor_type.shape.dim
        self.assertTrue(dims[0].dim_param)  # dynamic batch
        self.assertEqual(dims[1].dim_value, self.manifest["model"]["input_dim"])
        self.assertEqual(inp.type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
        self.assertIn("Softmax", [n.op_type for n in model.graph.node])

    def test_golden_cases_cover_missing_and_unknown_values(self):
        cases = self.golden["cases"]
        self.assertEqual(self.golden["atol"], 1e-5)
        self.assertGreaterEqual(len(cases), 16)
        optional = [f for f in self.manifest["features"] if not f["required"]]
        for f in optional:
            self.assertTrue(
                any(c["instance"].get(f["name"]) is None for c in cases), f"no case with {f['name']} missing"
            )
        self.assertTrue(any(c["instance"].get("payment_method") == "__not_in_vocabulary__" for c in cases))
        names = {f["name"] for f in self.manifest["features"]}
        for c in cases:
            self.assertTrue(set(c["instance"]) <= names)

    def test_golden_labels_follow_the_decision_threshold(self):
        output = self.manifest["output"]
        labels, t = output["labels"], output["threshold"]
        positive = labels.index(output["positive_label"])
        for c in self.golden["cases"]:
            p = c["output"][positive]
            self.assertEqual(c["label"], output["positive_label"] if p >= t else labels[1 - positive])
        # The cases around the threshold are where argmax would label differently.
        self.assertTrue(any(t <= c["output"][positive] < 0.5 for c in self.golden["cases"]))
        self.assertTrue(any(c["output"][positive] < t for c in self.golden["cases"]))

    def test_golden_features_follow_the_documented_preprocessing(self):
        for case in self.golden["cases"]:
            expected = preprocess_per_contract(case["instance"], self.manifest["features"])
            np.testing.assert_allclose(np.array(case["features"], dtype=np.float32), expected, rtol=0, atol=1e-6)
            self.assertEqual(len(case["features"]), self.manifest["model"]["input_dim"])

    def test_golden_outputs_are_what_the_onnx_graph_computes(self):
        model = onnx.load(os.path.join(self.model_dir, "model.onnx"))
        x = np.array([c["features"] for c in self.golden["cases"]], dtype=np.float32)
        y = run_onnx_numpy(model, x)
        np.testing.assert_allclose(y, np.array([c["output"] for c in self.golden["cases"]]), rtol=0, atol=1e-5)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)

    def test_reference_statistics_follow_the_bucket_rule(self):
        ref = self.manifest["reference"]
        self.assertEqual(ref["n"], 1400)  # the training split: 70% of 2000
        for name, stats in ref["features"].items():
            self.assertAlmostEqual(
                sum(stats["fractions"].values() if stats["type"] == "categorical" else stats["fractions"]), 1.0, places=9
            )
            if stats["type"] == "numeric":
                edges = stats["edges"]
                self.assertEqual(len(stats["fractions"]), len(edges) + 1)
                self.assertTrue(all(a < b for a, b in zip(edges, edges[1:])), name)
            else:
                self.assertEqual(stats["unknown"], 0.0)
        # Re-bucket the training split's raw tenure values with the documented rule.
        from ml_trainer.data import stratified_split
        import csv

        with open(os.path.join(self.root, "input", "data", "train", "train.csv"), encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        train_idx = stratified_split([r["outcome"] for r in rows], [0.15, 0.15], 42)[0]
        tenure = [rows[i]["tenure_months"] for i in train_idx]
        present = [float(v) for v in tenure if v != ""]
        stats = ref["features"]["tenure_months"]
        counts = [0] * (len(stats["edges"]) + 1)
        for v in present:
            counts[bucket_per_contract(v, stats["edges"])] += 1
        np.testing.assert_allclose([c / len(present) for c in counts], stats["fractions"], atol=1e-12)
        self.assertAlmostEqual(stats["missing"], 1 - len(present) / len(tenure), places=12)
        pred = ref["prediction"]
        self.assertEqual(len(pred["fractions"]), len(pred["edges"]) + 1)

    def test_manifest_and_golden_vectors_are_strict_json(self):
        # Python writes NaN and Infinity unless told not to; JSON.parse in the service refuses them.
        def refuse(constant):
            raise ValueError(f"{constant} is not JSON")

        for name in ("manifest.json", "golden.json"):
            with open(os.path.join(self.model_dir, name), encoding="utf-8") as f:
                json.loads(f.read(), parse_constant=refuse)


if __name__ == "__main__":
    unittest.main()
