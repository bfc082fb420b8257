#!/usr/bin/env python3
"""Write a "heavy" bundle: the churn fixture's features and labels with a wide MLP behind them.

For the benchmark and the event-loop test: a model whose batch takes tens of milliseconds, so
what blocks while it runs shows. Same manifest contract as the fixture (features, reference,
labels); only the graph, its sha256 and the golden outputs differ. Deterministic weights.
Usage: /usr/bin/python3 bench/make-heavy-bundle.py OUT_DIR [HIDDEN]   (needs onnx and numpy)
"""
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "test", "fixtures", "churn")


def main(out, hidden):
    manifest = json.load(open(os.path.join(FIXTURE, "manifest.json")))
    golden = json.load(open(os.path.join(FIXTURE, "golden.json")))
    dim = manifest["model"]["input_dim"]
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((dim, hidden)) / np.sqrt(dim)).astype(np.float32)
    w2 = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    w3 = (rng.standard_normal((hidden, 2)) / np.sqrt(hidden)).astype(np.float32)
    inp, outp = manifest["model"]["input_name"], manifest["model"]["output_name"]
    nodes = [
        helper.make_node("MatMul", [inp, "w1"], ["h1"]), helper.make_node("Relu", ["h1"], ["a1"]),
        helper.make_node("MatMul", ["a1", "w2"], ["h2"]), helper.make_node("Relu", ["h2"], ["a2"]),
        helper.make_node("MatMul", ["a2", "w3"], ["logits"]), helper.make_node("Softmax", ["logits"], [outp], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "heavy_mlp",
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(outp, TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(w, n) for w, n in ((w1, "w1"), (w2, "w2"), (w3, "w3"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make-heavy-bundle")
    model.ir_version = 8
    data = model.SerializeToString()
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "model.onnx"), "wb").write(data)

    def forward(x):
        a = np.maximum(np.maximum(x @ w1, 0) @ w2, 0) @ w3
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    x = np.array([c["features"] for c in golden["cases"]], dtype=np.float32)
    y = forward(x.astype(np.float64))
    cases = [dict(c, output=[round(float(v), 7) for v in y[i]]) for i, c in enumerate(golden["cases"])]
    json.dump({"atol": 1e-4, "cases": cases}, open(os.path.join(out, "golden.json"), "w"), indent=1)
    manifest["name"] = "churn"
    manifest["version"] = f"20261201-000000-heavy{hidden}"
    manifest["model"]["sha256"] = hashlib.sha256(data).hexdigest()
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2048)
