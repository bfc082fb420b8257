"""Writes the model bundle (docs/model-bundle.md): model.onnx, manifest.json, golden.json,
model_card.md and training_curve.svg."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import inspect
import json
import math
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .model import MLP, WithSoftmax

ONNX_OPSET = 17
NAME_PATTERN = re.compile(r"^[a-z0-9-]{1,63}$")


def model_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:63]
    if not NAME_PATTERN.match(name):
        raise ValueError(f"model name {raw!r} cannot be turned into [a-z0-9-]{{1,63}}")
    return name


def export_onnx(model: MLP, input_dim: int, path: str) -> WithSoftmax:
    """Exports on CPU in float32 with a dynamic batch axis; returns the exported module."""
    exported = WithSoftmax(copy.deepcopy(model).cpu().float()).eval()
    kwargs: Dict[str, object] = dict(
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
    )
    # PyTorch >= 2.9 defaults to the dynamo exporter (needs onnxscript); the TorchScript
    # exporter is the one that exists in both 1.13 and 2.x and gives the same small graph.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(exported, torch.zeros(1, input_dim), path, **kwargs)
    return exported


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_version(sha256: str, now: dt.datetime) -> str:
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{sha256[:8]}"


def _json_value(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        return int(f) if f.is_integer() else f
    return v


def golden_instances(
    rows: Sequence[Dict[str, object]], features: Sequence[Dict[str, object]], minimum: int
) -> List[Dict[str, object]]:
    """Real rows plus the edge cases the service must get right: missing optional values
    (as null and as an absent key), unknown categories for `unknown: "ignore"`, range bounds."""
    names = [str(f["name"]) for f in features]

    def instance(row: Dict[str, object]) -> Dict[str, object]:
        out: Dict[str, object] = {}
        for name in names:
            value = _json_value(row[name])
            if value is not None:
                out[name] = value
        return out

    base = instance(rows[0])
    edge: List[Dict[str, object]] = []
    for i, f in enumerate(features):
        name = str(f["name"])
        if not f["required"]:
            if f["type"] == "numeric":
                edge.append({**base, name: None})
            else:
                edge.append({k: v for k, v in base.items() if k != name})
        if f["type"] == "categorical" and f["unknown"] == "ignore":
            edge.append({**base, name: "__not_in_vocabulary__"})
        if f["type"] == "numeric":
            for bound in ("min", "max"):
                if f[bound] is not None:
                    edge.append({**base, name: _json_value(f[bound])})
        if f["type"] == "categorical":
            vocabulary = list(f["vocabulary"])  # type: ignore[arg-type]
            edge.append({**base, name: vocabulary[i % len(vocabulary)]})
    present = [instance(r) for r in rows if all(r[n] is not None and r[n] == r[n] for n in names)]
    with_missing = [instance(r) for r in rows if instance(r).keys() != set(names)]
    real = present[:8] + with_missing[:4]
    cases = real + edge
    extra = iter(instance(r) for r in rows[len(real) :])
    while len(cases) < minimum:
        cases.append(next(extra))
    return cases


def write_json(path: str, data: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write("\n")


def training_curve_svg(history: Sequence[Dict[str, float]], best_epoch: int) -> str:
    width, height, pad = 640, 360, 48
    epochs = [h["epoch"] for h in history]
    series = [("train_loss", "#1f77b4"), ("val_loss", "#d62728")]
    values = [h[k] for h in history for k, _ in series]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    x_max = max(epochs[-1], 2)

    def x(e: float) -> float:
        return pad + (e - 1) / (x_max - 1) * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - (v - lo) / (hi - lo) * (height - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">epoch</text>',
        f'<text x="{pad - 6}" y="{y(hi):.1f}" text-anchor="end">{hi:.3f}</text>',
        f'<text x="{pad - 6}" y="{y(lo):.1f}" text-anchor="end">{lo:.3f}</text>',
        f'<text x="{pad}" y="{height - pad + 16}" text-anchor="middle">1</text>',
        f'<text x="{x(x_max):.1f}" y="{height - pad + 16}" text-anchor="middle">{x_max}</text>',
        f'<line x1="{x(best_epoch):.1f}" y1="{pad}" x2="{x(best_epoch):.1f}" y2="{height - pad}" '
        'stroke="#999" stroke-dasharray="4 4"/>',
        f'<text x="{x(best_epoch) + 4:.1f}" y="{pad + 12}" fill="#555">best epoch {best_epoch}</text>',
    ]
    for i, (key, color) in enumerate(series):
        points = " ".join(f"{x(h['epoch']):.1f},{y(h[key]):.1f}" for h in history)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(f'<text x="{width - pad - 90}" y="{pad + 16 * i}" fill="{color}">{key}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def model_card(manifest: Dict[str, object], hp: Dict[str, object], extra: Dict[str, object]) -> str:
    metrics = manifest["metrics"]  # type: ignore[index]
    test = metrics["test"]  # type: ignore[index]
    labels = manifest["output"]["labels"]  # type: ignore[index]
    lines = [
        f"# Model card: {manifest['name']} {manifest['version']}",
        "",
        f"- task: {manifest['task']}, labels: {', '.join(labels)}",
        f"- created: {manifest['created_at']}, framework: PyTorch {manifest['framework']['version']}, "  # type: ignore[index]
        f"ONNX opset {ONNX_OPSET}",
        f"- training rows: {manifest['reference']['n']}, test rows: {test['n']}, "  # type: ignore[index]
        f"best epoch: {extra['best_epoch']} of {extra['epochs_run']}"
        f"{' (early stopping)' if extra['stopped_early'] else ''}",
        f"- device: {extra['device']}{' with mixed precision' if extra['amp'] else ''}",
        "",
        "## Intended use",
        "",
        "A reference tabular classifier that shows the platform's training contract end to end. "
        "Retrain it on your own data before relying on its predictions; review the per-segment "
        "metrics below for groups the model serves worse.",
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        lines.append(f"| {key} | {_fmt(test[key])} |")
    lines += ["", "Confusion matrix (rows = true label, columns = predicted):", ""]
    lines.append("| | " + " | ".join(labels) + " |")
    lines.append("| --- " * (len(labels) + 1) + "|")
    for label, row in zip(labels, test["confusion_matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    segments = metrics.get("segments")  # type: ignore[union-attr]
    if segments:
        lines += ["", f"## Per segment: `{segments['column']}`", "", "| value | n | accuracy | f1 | roc_auc |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for value, m in segments["values"].items():
            lines.append(f"| {value} | {m['n']} | {_fmt(m['accuracy'])} | {_fmt(m['f1'])} | {_fmt(m['roc_auc'])} |")
    lines += [
        "",
        "## Training curve",
        "",
        "![training curve](training_curve.svg)",
        "",
        "## Features",
        "",
        "| name | type | required |",
        "| --- | --- | --- |",
    ]
    for f in manifest["features"]:  # type: ignore[union-attr]
        lines.append(f"| {f['name']} | {f['type']} | {str(f['required']).lower()} |")
    lines += ["", "## Hyperparameters", "", "```json", json.dumps(hp, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)
