"""Same data, same seed, same CPU: the same model, metrics and golden vectors."""

import json
import os
import unittest

from .helpers import make_root, train_in_process


def without_timings(metrics):
    """Seconds and microseconds are measured, not computed: everything else must be equal."""
    out = {k: v for k, v in metrics.items() if k != "timing"}
    out["baselines"] = {
        name: {k: v for k, v in b.items() if k not in ("train_seconds", "inference_us_per_row")}
        for name, b in metrics["baselines"].items()
    }
    return out


def bundle(root):
    with open(os.path.join(root, "model", "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    with open(os.path.join(root, "model", "model.onnx"), "rb") as f:
        onnx_bytes = f.read()
    return onnx_bytes, golden


class DeterminismTest(unittest.TestCase):
    def test_two_runs_with_the_same_seed_give_the_same_bundle(self):
        a, b = make_root(rows=1500), make_root(rows=1500)
        ma = train_in_process(a, epochs=5, seed=3)
        mb = train_in_process(b, epochs=5, seed=3)
        self.assertEqual(ma["model"]["sha256"], mb["model"]["sha256"])
        self.assertEqual(without_timings(ma["metrics"]), without_timings(mb["metrics"]))
        self.assertEqual(ma["output"], mb["output"])
        self.assertEqual(ma["reference"], mb["reference"])
        self.assertEqual(bundle(a), bundle(b))

    def test_another_seed_gives_another_model(self):
        a, b = make_root(rows=1500), make_root(rows=1500)
        self.assertNotEqual(
            train_in_process(a, epochs=2, seed=1)["model"]["sha256"],
            train_in_process(b, epochs=2, seed=2)["model"]["sha256"],
        )


if __name__ == "__main__":
    unittest.main()
