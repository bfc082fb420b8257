"""Entry point: data -> checks -> splits -> preprocessing -> training -> evaluation -> bundle.

Exit code 0 and a bundle in the model dir, or exit code 1 and one line in output/failure
(SageMaker shows it as the job's FailureReason; the launcher shows it to the user).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from dataclasses import asdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from . import baselines, evaluation, export, objectives, preprocess, tracking
from .baselines import Predictor
from .contract import Hyperparameters, Paths, load_hyperparameters, resolve_paths
from .data import DataCheckError, Schema, Table, check_table, load_schema, parse_table, read_channel, stratified_split
from .metrics import classification_metrics, predict_labels, regression_metrics
from .model import TrainResult, class_weights, evaluate, train
from .target import Target


GOLDEN_ATOL = 1e-5


def log(message: str) -> None:
    print(message, flush=True)


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _load_channel(channel: str, paths: Paths, schema: Schema, hp: Hyperparameters) -> Table:
    header, rows = read_channel(channel, paths.channels[channel])
    return check_table(channel, parse_table(channel, header, rows, schema), schema, hp, is_train=False)


def run(
    paths: Paths, hp: Hyperparameters, now: Optional[dt.datetime] = None, tracker: Optional[tracking.Tracker] = None
) -> Dict[str, object]:
    now = now or dt.datetime.now(dt.timezone.utc)
    tracker = tracker or tracking.NoTracking()
    if "train" not in paths.channels:
        raise DataCheckError(
            "channel 'train' not found: set SM_CHANNEL_TRAIN or put CSV files in "
            f"{os.path.join(paths.root, 'input', 'data', 'train')}"
        )
    header, rows = read_channel("train", paths.channels["train"])
    schema = load_schema(paths.channels["train"], header, hp)
    full = check_table("train", parse_table("train", header, rows, schema), schema, hp, is_train=True)
    log(f"train channel: {full.n} rows, {len(schema.features)} features, label '{schema.label}'")

    regression = schema.regression
    labels: List[str] = [] if regression else schema.labels or sorted(set(full.columns[schema.label]))
    binary = len(labels) == 2
    positive_label = (schema.positive_label or labels[-1]) if binary else None
    if positive_label is not None and positive_label not in labels:
        raise DataCheckError(f"positive_label {positive_label!r} is not one of the labels {labels}")
    positive_index = labels.index(positive_label) if positive_label is not None else None
    task = "regression" if regression else "binary" if binary else "multiclass"

    fractions = []
    if "validation" not in paths.channels:
        fractions.append(hp.val_fraction)
    if "test" not in paths.channels:
        fractions.append(hp.test_fraction)
    parts = stratified_split(Target(schema.label, labels).split_key(full), fractions, hp.seed)
    train_table = full.take(parts[0])
    rest = iter(parts[1:])
    val_table = _load_channel("validation", paths, schema, hp) if "validation" in paths.channels else full.take(next(rest))
    test_table = _load_channel("test", paths, schema, hp) if "test" in paths.channels else full.take(next(rest))
    how = "random" if regression else f"stratified on '{schema.label}'"
    log(f"split: train={train_table.n} validation={val_table.n} test={test_table.n} ({how})")

    features = preprocess.fit(train_table, schema)  # training split only: no leakage
    target = Target.fit(schema.label, labels, train_table)

    def x_of(table: Table, channel: str) -> torch.Tensor:
        return torch.from_numpy(preprocess.transform(table, features, channel))

    x_train, x_val, x_test = x_of(train_table, "train"), x_of(val_table, "validation"), x_of(test_table, "test")
    y_train, y_val = target.tensor(train_table), target.tensor(val_table)

    objective = objectives.objective_from(hp, task)
    n_classes = len(labels)  # 0: regression

    def fit_all(
        t: Target, x_tr: torch.Tensor, y_tr: torch.Tensor, x_v: torch.Tensor, y_v: torch.Tensor, quiet: bool
    ) -> Tuple[TrainResult, List[Predictor]]:
        """The network and the baselines (network first), each trained on the same rows."""
        fitted = train(
            hp, x_tr, y_tr, x_v, y_v, n_classes, None if quiet else paths.checkpoint_dir, positive_index,
            log=(lambda _: None) if quiet else log,
            on_epoch=None if quiet else lambda row: tracker.log_metrics(tracking.epoch_metrics(row), int(row["epoch"])),
        )
        device = torch.device(fitted.device)
        network = Predictor(
            "model",
            lambda x: t.unscale(evaluate(fitted.model, torch.from_numpy(x), device, regression=regression)),
            fitted.seconds,
            True,
        )
        if regression:
            y_raw = t.unscale(y_tr.numpy()).reshape(-1)
            return fitted, [network, baselines.linear_regression(x_tr.numpy(), y_raw), baselines.mean(y_raw)]
        weights = class_weights(hp, y_tr, n_classes)
        return fitted, [
            network,
            baselines.logistic_regression(x_tr, y_tr, n_classes, hp.weight_decay, weights, hp.seed),
            baselines.majority(y_tr.numpy(), n_classes),
        ]

    result, (network, *simple) = fit_all(target, x_train, y_train, x_val, y_val, quiet=False)
    model = result.model
    x_val_np, x_test_np = x_val.numpy(), x_test.numpy()
    y_val_np, y_test_np = target.values(val_table), target.values(test_table)

    def judge(p: Predictor) -> evaluation.Assessment:
        return evaluation.assess(objective, p.predict, x_val_np, y_val_np, x_test_np, y_test_np, positive_index, p.tune_threshold)

    assessed = judge(network)
    threshold = assessed.threshold
    test_metrics = assessed.test
    test_probabilities = assessed.test_probabilities
    metrics: Dict[str, object] = {
        "objective": objective.record(),
        "test": test_metrics,
        "validation": assessed.validation,
        "timing": {
            "train_seconds": result.seconds,
            "inference_us_per_row": baselines.inference_us_per_row(network.predict, x_test_np),
        },
    }
    baseline_records: Dict[str, object] = {}
    for b in simple:
        a = judge(b)
        baseline_records[b.name] = {
            "test": a.test,
            **({"threshold": a.threshold} if a.threshold is not None else {}),
            "train_seconds": b.train_seconds,
            "inference_us_per_row": baselines.inference_us_per_row(b.predict, x_test_np),
        }
    metrics["baselines"] = baseline_records
    metrics["verdict"] = objectives.verdict(
        objective,
        test_metrics[objective.metric],  # type: ignore[arg-type]
        {name: b["test"][objective.metric] for name, b in baseline_records.items()},  # type: ignore[index]
    )
    if schema.segment_column:
        segment_values = test_table.columns[schema.segment_column]
        per_segment = {}
        for value in sorted({v for v in segment_values if v is not None}, key=str):
            mask = np.array([v == value for v in segment_values])
            if regression:
                per_segment[str(value)] = regression_metrics(y_test_np[mask], test_probabilities[mask])
                continue
            m = classification_metrics(y_test_np[mask], test_probabilities[mask], positive_index, threshold)
            per_segment[str(value)] = {k: m[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc", "n")}
        metrics["segments"] = {"column": schema.segment_column, "values": per_segment}
    metrics["feature_importance"] = evaluation.permutation_importance(
        objective, network.predict, x_test_np, y_test_np, features, positive_index, threshold, hp.seed
    )
    if hp.cv_folds:
        metrics["cv"] = evaluation.cross_validate(
            hp, objective, train_table, val_table, schema, target, positive_index,
            lambda *fold: fit_all(*fold, quiet=True)[1][:2], log,
        )
    log(
        " ".join(
            f"test_{k}={test_metrics[k]:.6f}"
            for k in dict.fromkeys(
                ("mae", "rmse", "r2") if regression else ("accuracy", "precision", "recall", "f1", "roc_auc", objective.metric)
            )
            if test_metrics[k] is not None
        )
    )
    verdict = metrics["verdict"]
    log(
        f"objective {objective.describe()}: test {_fmt(verdict['value'])}, target {_fmt(objective.target)}"  # type: ignore[index]
        f"{'' if verdict['target_met'] is None else ' met' if verdict['target_met'] else ' missed'}; "  # type: ignore[index]
        f"best baseline {verdict['best_baseline']} {_fmt(verdict['best_baseline_value'])}, margin {_fmt(verdict['margin'])}"  # type: ignore[index]
        + (f"; threshold {threshold:.6f}" if threshold is not None else "")
    )

    os.makedirs(paths.model_dir, exist_ok=True)
    onnx_path = os.path.join(paths.model_dir, "model.onnx")
    exported = export.export_onnx(model, x_train.shape[1], onnx_path, (target.mean, target.std) if regression else None)
    sha256 = export.sha256_file(onnx_path)

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return exported(torch.from_numpy(x)).numpy()

    train_outputs = predict(x_train.numpy())
    if regression:
        tracked = train_outputs[:, 0]
    else:
        tracked = train_outputs[:, positive_index] if positive_index is not None else train_outputs.max(axis=1)

    test_rows = [test_table.row(i) for i in range(test_table.n)]
    around_threshold = (
        export.rows_around_threshold(test_rows, test_probabilities[:, positive_index], threshold, GOLDEN_ATOL)
        if threshold is not None
        else []
    )
    instances = export.golden_instances(test_rows, features, hp.golden_cases, around_threshold)
    golden_x = preprocess.transform(preprocess.table_from_instances(instances, features), features, "golden")
    golden_y = predict(golden_x)
    golden_labels = [] if regression else [labels[int(i)] for i in predict_labels(golden_y, positive_index, threshold)]
    # float32 rounding grows with the value: a regression output gets the same relative tolerance.
    atol = GOLDEN_ATOL * max(1.0, float(np.abs(golden_y).max())) if regression else GOLDEN_ATOL
    golden = {
        "atol": atol,
        "cases": [
            {
                "instance": inst,
                "features": [float(v) for v in gx],
                "output": [float(v) for v in gy],
                **({"label": golden_labels[i]} if golden_labels else {}),
            }
            for i, (inst, gx, gy) in enumerate(zip(instances, golden_x, golden_y))
        ],
    }

    output: Dict[str, object] = {"labels": labels}
    if positive_label is not None:
        output["positive_label"] = positive_label
        output["threshold"] = threshold
    manifest = {
        "schema_version": 1,
        "name": export.model_name(schema.name),
        "version": hp.version or export.make_version(sha256, now),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "framework": {"name": "pytorch", "version": torch.__version__.split("+")[0], "onnx_opset": export.ONNX_OPSET},
        "task": "regression" if regression else "binary_classification" if binary else "multiclass_classification",
        "model": {
            "file": "model.onnx",
            "sha256": sha256,
            "input_name": "input",
            "input_dim": int(x_train.shape[1]),
            "output_name": "prediction" if regression else "probabilities",
        },
        "features": features,
        "output": output,
        "metrics": metrics,
        "reference": preprocess.reference_statistics(train_table, features, tracked),
        "golden": "golden.json",
    }
    export.write_json(os.path.join(paths.model_dir, "manifest.json"), manifest)
    export.write_json(os.path.join(paths.model_dir, "golden.json"), golden)
    with open(os.path.join(paths.model_dir, "training_curve.svg"), "w", encoding="utf-8") as f:
        f.write(export.training_curve_svg(result.history, result.best_epoch))
    if threshold is not None:
        curves = {
            "validation": (y_val_np == positive_index, assessed.validation_probabilities[:, positive_index]),
            "test": (y_test_np == positive_index, test_probabilities[:, positive_index]),
        }
        with open(os.path.join(paths.model_dir, export.PR_CURVE_FILE), "w", encoding="utf-8") as f:
            f.write(export.precision_recall_svg(curves, threshold, objective))
    summary = {
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "resumed_from": result.resumed_from,
        "device": result.device,
        "amp": result.amp,
        "batch_size": result.batch_size,
        "train_seconds": result.seconds,
        "train_samples_per_second": result.samples_per_second,
    }
    with open(os.path.join(paths.model_dir, "model_card.md"), "w", encoding="utf-8") as f:
        f.write(export.model_card(manifest, asdict(hp), summary))
    os.makedirs(paths.output_data_dir, exist_ok=True)
    export.write_json(
        os.path.join(paths.output_data_dir, "evaluation.json"),
        {"name": manifest["name"], "version": manifest["version"], "metrics": metrics, "training": summary},
    )
    log(f"bundle written: {paths.model_dir} ({manifest['name']} {manifest['version']})")
    # The exported model is the best epoch's: its test metrics are that step's.
    tracker.log_metrics(tracking.flat_metrics("test", test_metrics), result.best_epoch)
    tracker.log_artifacts(paths.model_dir, "model")
    return manifest


def fail(paths: Paths, message: str) -> None:
    try:
        os.makedirs(paths.output_dir, exist_ok=True)
        with open(paths.failure_file, "w", encoding="utf-8") as f:
            f.write(message[:1000] + "\n")  # SageMaker keeps the first 1024 characters
    except OSError:
        pass
    print(f"ERROR: {message}", file=sys.stderr, flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    paths = resolve_paths()
    tracker: tracking.Tracker = tracking.NoTracking()
    try:
        hp = load_hyperparameters(paths, argv)
        tracker = tracking.from_env(warn=log)
        tracker.start(asdict(hp))
        run(paths, hp, tracker=tracker)
        tracker.end("FINISHED")
        return 0
    except (DataCheckError, ValueError) as err:
        fail(paths, str(err))
        tracker.end("FAILED")
        return 1
    except Exception as err:  # noqa: BLE001 - the job must always leave a failure reason
        traceback.print_exc()
        fail(paths, f"unexpected error: {type(err).__name__}: {err}")
        tracker.end("FAILED")
        return 1


if __name__ == "__main__":
    sys.exit(main())
