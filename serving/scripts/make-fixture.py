#!/usr/bin/env python3
"""Build the example model bundle in serving/test/fixtures/churn (docs/model-bundle.md).

A small MLP (softmax inside the graph) trained on synthetic churn data, so the manifest's
metrics and reference statistics are real numbers. Deterministic: same bytes every run.
Needs Debian's python3 with torch (CPU), onnx and numpy:  /usr/bin/python3 scripts/make-fixture.py
It stands in for the reference trainer until that writes bundles the same way.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "churn")
NAME, VERSION, CREATED_AT = "churn", "20261126-000000-fixture1", "2026-11-26T00:00:00Z"

FEATURES = [
    {"name": "tenure_months", "type": "numeric", "required": False, "min": 0, "max": 240},
    {"name": "monthly_charges", "type": "numeric", "required": True, "min": 0, "max": 1000},
    {"name": "support_calls", "type": "numeric", "required": False, "min": 0, "max": None},
    {"name": "age", "type": "numeric", "required": False, "min": 18, "max": 120},
    {"name": "plan", "type": "categorical", "required": True,
     "vocabulary": ["basic", "pro", "enterprise"], "unknown": "error"},
    {"name": "region", "type": "categorical", "required": False,
     "vocabulary": ["eu", "us", "apac"], "unknown": "ignore"},
]
LABELS = ["stay", "churn"]


def synth(rng, n):
    """Raw rows as dicts (None = missing) and labels."""
    tenure = rng.gamma(2.0, 12.0, n).clip(0, 240).round(0)
    charges = rng.normal(70, 25, n).clip(5, 400).round(2)
    calls = rng.poisson(1.5, n).astype(float)
    age = rng.normal(42, 12, n).clip(18, 90).round(0)
    plan = rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.35, 0.15])
    region = rng.choice(["eu", "us", "apac"], n, p=[0.4, 0.4, 0.2])
    logit = (-0.06 * tenure + 0.025 * (charges - 70) + 0.45 * calls - 0.01 * (age - 42)
             + np.where(plan == "basic", 0.6, np.where(plan == "pro", -0.2, -0.8))
             + np.where(region == "apac", 0.3, 0.0) - 0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    rows = []
    for i in range(n):
        rows.append({
            "tenure_months": None if rng.random() < 0.04 else float(tenure[i]),
            "monthly_charges": float(charges[i]),
            "support_calls": None if rng.random() < 0.05 else float(calls[i]),
            "age": None if rng.random() < 0.03 else float(age[i]),
            "plan": str(plan[i]),
            "region": None if rng.random() < 0.1 else str(region[i]),
        })
    return rows, y


def fit(rows):
    """Fit imputation and standardization on the training split (present values only)."""
    feats = []
    for f in FEATURES:
        f = dict(f)
        present = [r[f["name"]] for r in rows if r[f["name"]] is not None]
        if f["type"] == "numeric":
            arr = np.array(present, dtype=np.float64)
            f["impute"] = None if f["required"] else float(np.median(arr))
            f["mean"], f["std"] = round(float(arr.mean()), 6), round(float(arr.std()), 6)
        else:
            values, counts = np.unique(present, return_counts=True)
            f["impute"] = None if f["required"] else str(values[counts.argmax()])
        feats.append(f)
    return feats


def preprocess(feats, inst):
    """The exact rule of docs/model-bundle.md: float64 maths, one cast to float32."""
    out = []
    for f in feats:
        v = inst.get(f["name"])
        if v is None:
            v = f["impute"]
        if f["type"] == "numeric":
            std = f["std"] if f["std"] != 0 else 1.0
            out.append((float(v) - f["mean"]) / std)
        else:
            out.extend(1.0 if v == w else 0.0 for w in f["vocabulary"])
    return np.array(out, dtype=np.float64).astype(np.float32)


def bucket_fractions(values, edges):
    idx = np.searchsorted(np.array(edges), np.array(values), side="left")  # edges[i-1] < v <= edges[i]
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [round(float(c) / len(values), 6) for c in counts]


def quantile_edges(values):
    q = np.quantile(np.array(values, dtype=np.float64), np.linspace(0.1, 0.9, 9))
    return [float(x) for x in np.unique(np.round(q, 6))]


def reference(feats, rows, pos_prob):
    ref = {"n": len(rows), "features": {}}
    for f in feats:
        vals = [r[f["name"]] for r in rows]
        present = [v for v in vals if v is not None]
        missing = round(1 - len(present) / len(vals), 6)
        if f["type"] == "numeric":
            edges = quantile_edges(present)
            ref["features"][f["name"]] = {"type": "numeric", "edges": edges,
                                          "fractions": bucket_fractions(present, edges), "missing": missing}
        else:
            ref["features"][f["name"]] = {
                "type": "categorical",
                "fractions": {w: round(sum(v == w for v in present) / len(present), 6) for w in f["vocabulary"]},
                "unknown": round(sum(v not in f["vocabulary"] for v in present) / len(present), 6),
                "missing": missing}
    edges = quantile_edges(pos_prob)
    ref["prediction"] = {"edges": edges, "fractions": bucket_fractions(pos_prob, edges)}
    return ref


def roc_auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def classification_metrics(y, prob):
    pred = prob.argmax(1)
    tp = int(((pred == 1) & (y == 1)).sum()); fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum()); tn = int(((pred == 0) & (y == 0)).sum())
    precision = tp / max(tp + fp, 1); recall = tp / max(tp + fn, 1)
    return {"accuracy": round((tp + tn) / len(y), 4), "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
            "roc_auc": round(roc_auc(y, prob[:, 1]), 4), "confusion_matrix": [[tn, fp], [fn, tp]], "n": int(len(y))}


def main():
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    rows, y = synth(rng, 8000)
    train_rows, val_rows, test_rows = rows[:6000], rows[6000:7000], rows[7000:]
    y_train, y_val, y_test = y[:6000], y[6000:7000], y[7000:]
    feats = fit(train_rows)
    dim = sum(1 if f["type"] == "numeric" else len(f["vocabulary"]) for f in feats)
    enc = lambda rs: torch.from_numpy(np.stack([preprocess(feats, r) for r in rs]))
    x_train, x_val, x_test = enc(train_rows), enc(val_rows), enc(test_rows)

    net = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.ReLU(), torch.nn.Linear(16, len(LABELS)))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(net(x_train), torch.from_numpy(y_train))
        loss.backward()
        opt.step()
    model = torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval()

    os.makedirs(OUT, exist_ok=True)
    onnx_path = os.path.join(OUT, "model.onnx")
    torch.onnx.export(model, x_train[:1], onnx_path, input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17)
    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()

    with torch.no_grad():
        p_train, p_val, p_test = (model(x).numpy() for x in (x_train, x_val, x_test))
        val_loss = float(loss_fn(net(x_val), torch.from_numpy(y_val)))
    seg = {}
    for region in ["eu", "us", "apac"]:
        m = np.array([r["region"] == region for r in test_rows])
        seg[region] = {"accuracy": round(float((p_test[m].argmax(1) == y_test[m]).mean()), 4), "n": int(m.sum())}

    manifest = {
        "schema_version": 1, "name": NAME, "version": VERSION, "created_at": CREATED_AT,
        "framework": {"name": "pytorch", "version": torch.__version__.split("a")[0], "onnx_opset": 17},
        "task": "binary_classification",
        "model": {"file": "model.onnx", "sha256": sha, "input_name": "input", "input_dim": dim,
                  "output_name": "probabilities"},
        "features": feats,
        "output": {"labels": LABELS, "positive_label": "churn"},
        "metrics": {"test": classification_metrics(y_test, p_test),
                    "validation": {"loss": round(val_loss, 4),
                                   "accuracy": round(float((p_val.argmax(1) == y_val).mean()), 4)},
                    "segments": {"column": "region", "values": seg}},
        "reference": reference(feats, train_rows, [float(p) for p in p_train[:, 1]]),
        "golden": "golden.json",
    }

    cases = [dict(r) for r in test_rows[:12]]
    cases += [
        {"monthly_charges": 55.5, "plan": "pro"},                                    # every optional missing
        {"tenure_months": None, "monthly_charges": 120, "plan": "basic", "region": None},  # explicit nulls
        {"tenure_months": 3, "monthly_charges": 99.9, "support_calls": 6, "age": 30,
         "plan": "basic", "region": "mars"},                                         # unknown category, ignored
        {"tenure_months": 240, "monthly_charges": 0, "support_calls": 0, "age": 120,
         "plan": "enterprise", "region": "apac"},                                    # range edges
    ]
    cases = [{k: v for k, v in c.items() if not (v is None and k in ("age",))} for c in cases]
    x = torch.from_numpy(np.stack([preprocess(feats, c) for c in cases]))
    with torch.no_grad():
        out = model(x).numpy()
    golden = {"atol": 1e-5, "cases": [
        {"instance": c, "features": [float(v) for v in x[i].numpy()], "output": [float(v) for v in out[i]]}
        for i, c in enumerate(cases)]}

    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    with open(os.path.join(OUT, "golden.json"), "w") as fh:
        json.dump(golden, fh, indent=2)
        fh.write("\n")
    print(f"wrote {OUT}: D={dim} sha256={sha[:12]} test={manifest['metrics']['test']}", file=sys.stderr)


if __name__ == "__main__":
    main()
