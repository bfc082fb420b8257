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
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .evaluation import IMPORTANCE_REPEATS
from .model import MLP, WithScale, WithSoftmax
from .objectives import OBJECTIVE_METRICS, Objective, operating_points

ONNX_OPSET = 17
NAME_PATTERN = re.compile(r"^[a-z0-9-]{1,63}$")


def model_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:63]
    if not NAME_PATTERN.match(name):
        raise ValueError(f"model name {raw!r} cannot be turned into [a-z0-9-]{{1,63}}")
    return name


def export_onnx(model: MLP, input_dim: int, path: str, scale: Optional[Tuple[float, float]] = None) -> torch.nn.Module:
    """Exports on CPU in float32 with a dynamic batch axis; returns the exported module.
    Classification: softmax probabilities; regression (`scale` = the label's mean and std): the
    prediction in the label's units."""
    network = copy.deepcopy(model).cpu().float()
    exported = (WithSoftmax(network) if scale is None else WithScale(network, *scale)).eval()
    output = "probabilities" if scale is None else "prediction"
    kwargs: Dict[str, object] = dict(
        input_names=["input"],
        output_names=[output],
        dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}},
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


def rows_around_threshold(
    rows: Sequence[Dict[str, object]], score: np.ndarray, threshold: float, margin: float
) -> List[Dict[str, object]]:
    """The rows whose P(positive) is closest to the threshold on either side, but more than
    `margin` away from it (so float rounding cannot flip their label): the golden cases that
    show the service labels with the threshold and not with argmax."""
    s = np.asarray(score, dtype=np.float64)
    out = []
    above = np.flatnonzero(s >= threshold + margin)
    below = np.flatnonzero(s < threshold - margin)
    if above.size:
        out.append(rows[int(above[np.argmin(s[above])])])
    if below.size:
        out.append(rows[int(below[np.argmax(s[below])])])
    return out


def golden_instances(
    rows: Sequence[Dict[str, object]],
    features: Sequence[Dict[str, object]],
    minimum: int,
    extra_rows: Sequence[Dict[str, object]] = (),
) -> List[Dict[str, object]]:
    """Real rows plus the edge cases the service must get right: missing optional values
    (as null and as an absent key), unknown categories for `unknown: "ignore"`, range bounds,
    and `extra_rows` (the rows around the decision threshold)."""
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
    cases = real + edge + [instance(r) for r in extra_rows]
    extra = iter(instance(r) for r in rows[len(real) :])
    while len(cases) < minimum:
        cases.append(next(extra))
    return cases


def write_json(path: str, data: object) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write("\n")


def _svg_frame(width: int, height: int, pad: int, x_label: str) -> List[str]:
    """An SVG's opening tag, white background, both axes and the x-axis label."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>',
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">{x_label}</text>',
    ]


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

    parts = _svg_frame(width, height, pad, "epoch") + [
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


PR_CURVE_FILE = "precision_recall.svg"
IMPORTANCE_SHOWN = 10


def precision_recall_svg(
    curves: Dict[str, Tuple[np.ndarray, np.ndarray]], threshold: float, objective: Objective
) -> str:
    """Precision against recall for every threshold, one line per split, with the point of the
    chosen threshold marked on each (and the objective's recall or precision floor dashed)."""
    width, height, pad = 640, 400, 52
    colors = {"validation": "#d62728", "test": "#1f77b4"}

    def x(recall: float) -> float:
        return pad + recall * (width - 2 * pad)

    def y(precision: float) -> float:
        return height - pad - precision * (height - 2 * pad)

    parts = _svg_frame(width, height, pad, "recall") + [
        f'<text x="14" y="{height / 2}" text-anchor="middle" transform="rotate(-90 14 {height / 2})">precision</text>',
    ]
    for v in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(v):.1f}" y="{height - pad + 16}" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    floor = OBJECTIVE_METRICS[objective.metric]["parameter"]
    if floor == "recall":
        parts.append(
            f'<line x1="{x(objective.parameter):.1f}" y1="{pad}" x2="{x(objective.parameter):.1f}" '  # type: ignore[arg-type]
            f'y2="{height - pad}" stroke="#999" stroke-dasharray="4 4"/>'
        )
    elif floor == "precision":
        parts.append(
            f'<line x1="{pad}" y1="{y(objective.parameter):.1f}" x2="{width - pad}" '  # type: ignore[arg-type]
            f'y2="{y(objective.parameter):.1f}" stroke="#999" stroke-dasharray="4 4"/>'
        )
    for i, (name, (is_positive, score)) in enumerate(curves.items()):
        thresholds, tp, fp = operating_points(is_positive, score)
        n_pos = max(float(np.sum(is_positive)), 1.0)
        precision, recall = tp / np.maximum(tp + fp, 1), tp / n_pos
        points = " ".join(f"{x(r):.1f},{y(p):.1f}" for r, p in zip(recall, precision))
        color = colors.get(name, "#555")
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        chosen = np.asarray(score, dtype=np.float64) >= threshold
        tp_t = float(np.sum(chosen & np.asarray(is_positive, dtype=bool)))
        p_t, r_t = tp_t / max(float(chosen.sum()), 1.0), tp_t / n_pos
        parts.append(f'<circle cx="{x(r_t):.1f}" cy="{y(p_t):.1f}" r="5" fill="{color}" stroke="black"/>')
        parts.append(
            f'<text x="{width - pad - 200}" y="{pad + 16 * i}" fill="{color}">{name}: '
            f"precision {p_t:.3f}, recall {r_t:.3f}</text>"
        )
    parts.append(f'<text x="{pad + 8}" y="{pad - 12}" fill="#333">threshold {threshold:.4f} (dots)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _seconds(v: float) -> str:
    return f"{v:.3f}" if v >= 0.001 else f"{v:.1e}"


def _comparison(metrics: Dict[str, object], objective: Objective, threshold: Optional[float]) -> List[str]:
    """The guide's 4.4 table: the model against its baselines, metric by metric, on the test split."""
    baselines: Dict[str, Dict[str, object]] = metrics.get("baselines", {})  # type: ignore[assignment]
    columns = [("model", metrics["test"], metrics["timing"], threshold)] + [
        (name, b["test"], b, b.get("threshold")) for name, b in baselines.items()  # type: ignore[union-attr]
    ]
    lines = ["| metric | " + " | ".join(name for name, *_ in columns) + " |", "| --- " * (len(columns) + 1) + "|"]
    standard = ("mae", "rmse", "r2") if "rmse" in metrics["test"] else ("roc_auc", "accuracy", "precision", "recall", "f1")  # type: ignore[operator]
    keys = list(dict.fromkeys((objective.metric, *standard)))
    for key in keys:
        label = f"**{objective.describe()}** (objective)" if key == objective.metric else key
        lines.append(f"| {label} | " + " | ".join(_fmt(test.get(key)) for _, test, *_ in columns) + " |")  # type: ignore[union-attr]
    if threshold is not None:
        lines.append(
            "| decision threshold | "
            + " | ".join("argmax" if t is None else f"{t:.4f}" for *_, t in columns)
            + " |"
        )
    lines.append("| training time (s) | " + " | ".join(_seconds(c["train_seconds"]) for _, _, c, _ in columns) + " |")  # type: ignore[index]
    lines.append(
        "| inference (µs/row) | " + " | ".join(f"{c['inference_us_per_row']:.2f}" for _, _, c, _ in columns) + " |"  # type: ignore[index]
    )
    return lines


def _verdict_line(objective: Objective, verdict: Dict[str, object]) -> str:
    if objective.target is None:
        target = "no target set (training.objective.target in the team file)"
    elif verdict["target_met"] is None:
        target = f"target {_fmt(objective.target)}: cannot be judged"
    else:
        target = f"target {_fmt(objective.target)}: **{'met' if verdict['target_met'] else 'missed'}**"
    if verdict["margin"] is None:
        baseline = "no baseline to compare with"
    else:
        margin = float(verdict["margin"])  # type: ignore[arg-type]
        baseline = (
            f"{'beats' if margin > 0 else '**does not beat**'} the best baseline ({verdict['best_baseline']}, "
            f"{_fmt(verdict['best_baseline_value'])}): margin {margin:+.4f}"
        )
    return f"Test {objective.describe()}: {_fmt(verdict['value'])}; {target}; the model {baseline}."  # type: ignore[arg-type]


def model_card(manifest: Dict[str, object], hp: Dict[str, object], extra: Dict[str, object]) -> str:
    metrics = manifest["metrics"]  # type: ignore[index]
    test = metrics["test"]  # type: ignore[index]
    labels = manifest["output"]["labels"]  # type: ignore[index]
    threshold = manifest["output"].get("threshold")  # type: ignore[union-attr]
    objective = Objective(**metrics["objective"], default=not hp.get("objective_metric"))  # type: ignore[index]
    regression = manifest["task"] == "regression"
    lines = [
        f"# Model card: {manifest['name']} {manifest['version']}",
        "",
        f"- task: {manifest['task']}" + ("" if regression else f", labels: {', '.join(labels)}"),
        f"- created: {manifest['created_at']}, framework: PyTorch {manifest['framework']['version']}, "  # type: ignore[index]
        f"ONNX opset {ONNX_OPSET}",
        f"- training rows: {manifest['reference']['n']}, test rows: {test['n']}, "  # type: ignore[index]
        f"best epoch: {extra['best_epoch']} of {extra['epochs_run']}"
        f"{' (early stopping)' if extra['stopped_early'] else ''}",
        f"- device: {extra['device']}{' with mixed precision' if extra['amp'] else ''}",
        "",
        "## Intended use",
        "",
        f"A reference tabular {'regressor' if regression else 'classifier'} that shows the platform's training contract end to end. "
        "Retrain it on your own data before relying on its predictions; review the per-segment "
        "metrics below for groups the model serves worse.",
        "",
        "## Objective and verdict",
        "",
        f"- objective: {objective.describe()}"
        + (" (the trainer's default: set training.objective in the team file)" if objective.default else "")
        + f", target: {_fmt(objective.target) if objective.target is not None else 'not set'}",
        f"- verdict: {_verdict_line(objective, metrics['verdict'])}",  # type: ignore[arg-type]
        "",
        "## Model vs baselines (test split)",
        "",
        "Every column is trained on the same training split, its threshold (binary labels) chosen on the same "
        "validation split, and measured on the same test rows. Times are measured on the training "
        "machine (the whole test split as one batch).",
        "",
        *_comparison(metrics, objective, threshold),  # type: ignore[arg-type]
    ]
    cv = metrics.get("cv")  # type: ignore[union-attr]
    if cv:
        lines += ["", f"## Cross-validation ({cv['folds']} folds of the training split)", "", f"| predictor | {objective.describe()} mean | std |", "| --- | --- | --- |"]
        for name, v in cv.items():
            if isinstance(v, dict):
                lines.append(f"| {name} | {_fmt(v['mean'])} | {_fmt(v['std'])} |")
    if threshold is not None:
        validation = metrics["validation"]  # type: ignore[index]
        lines += [
            "",
            "## Decision threshold",
            "",
            f"The service labels a row `{manifest['output']['positive_label']}` when its probability is at least "  # type: ignore[index]
            f"**{threshold:.4f}**, chosen on the validation split to optimize {objective.describe()} "
            f"(validation precision {_fmt(validation['precision'])}, recall {_fmt(validation['recall'])}; "
            f"test precision {_fmt(test['precision'])}, recall {_fmt(test['recall'])}).",
            "",
            f"![precision-recall curve]({PR_CURVE_FILE})",
        ]
    if not regression:
        lines += ["", "Confusion matrix on the test split (rows = true label, columns = predicted):", ""]
        lines.append("| | " + " | ".join(labels) + " |")
        lines.append("| --- " * (len(labels) + 1) + "|")
        for label, row in zip(labels, test["confusion_matrix"]):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    importance = metrics.get("feature_importance") or []  # type: ignore[union-attr]
    if importance:
        lines += [
            "",
            "## Feature importance (permutation, test split)",
            "",
            f"How much {objective.describe()} drops when one feature's values are shuffled across the test rows "
            f"(mean ± std of {IMPORTANCE_REPEATS} shuffles; top {IMPORTANCE_SHOWN}).",
            "",
            "| feature | drop | ± |",
            "| --- | --- | --- |",
        ]
        for r in importance[:IMPORTANCE_SHOWN]:
            lines.append(f"| {r['feature']} | {r['mean']:+.4f} | {r['std']:.4f} |")
    segments = metrics.get("segments")  # type: ignore[union-attr]
    if segments:
        columns = ("mae", "rmse", "r2") if regression else ("accuracy", "f1", "roc_auc")
        lines += ["", f"## Per segment: `{segments['column']}`", "", "| value | n | " + " | ".join(columns) + " |"]
        lines.append("| --- " * (len(columns) + 2) + "|")
        for value, m in segments["values"].items():
            lines.append(f"| {value} | {m['n']} | " + " | ".join(_fmt(m[c]) for c in columns) + " |")
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
