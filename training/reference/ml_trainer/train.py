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
from typing import Dict, List, Optional

import numpy as np
import torch

from . import distributed, export, preprocess, shards
from .contract import Hyperparameters, Paths, load_hyperparameters, resolve_paths
from .data import DataCheckError, Schema, Table, check_table, load_schema, parse_table, read_channel, stratified_split
from .metrics import classification_metrics, log_loss
from .model import evaluate, train


def log(message: str) -> None:
    print(message, flush=True)


def _load_channel(channel: str, paths: Paths, schema: Schema, hp: Hyperparameters) -> Table:
    header, rows = read_channel(channel, paths.channels[channel])
    return check_table(channel, parse_table(channel, header, rows, schema), schema, hp, is_train=False)


def _prepare_in_memory(paths: Paths, hp: Hyperparameters) -> shards.Prepared:
    header, rows = read_channel("train", paths.channels["train"])
    schema = load_schema(paths.channels["train"], header, hp)
    full = check_table("train", parse_table("train", header, rows, schema), schema, hp, is_train=True)
    log(f"train channel: {full.n} rows, {len(schema.features)} features, label '{schema.label}'")

    labels: List[str] = schema.labels or sorted(set(full.columns[schema.label]))

    fractions = []
    if "validation" not in paths.channels:
        fractions.append(hp.val_fraction)
    if "test" not in paths.channels:
        fractions.append(hp.test_fraction)
    parts = stratified_split(full.columns[schema.label], fractions, hp.seed)
    train_table = full.take(parts[0])
    rest = iter(parts[1:])
    val_table = _load_channel("validation", paths, schema, hp) if "validation" in paths.channels else full.take(next(rest))
    test_table = _load_channel("test", paths, schema, hp) if "test" in paths.channels else full.take(next(rest))
    log(f"split: train={train_table.n} validation={val_table.n} test={test_table.n} (stratified on '{schema.label}')")

    features = preprocess.fit(train_table, schema)  # training split only: no leakage
    return shards.Prepared(schema, labels, train_table, val_table, test_table, features)


def run(
    paths: Paths, hp: Hyperparameters, now: Optional[dt.datetime] = None, ctx: distributed.Context = distributed.LOCAL
) -> Dict[str, object]:
    now = now or dt.datetime.now(dt.timezone.utc)
    if "train" not in paths.channels:
        raise DataCheckError(
            "channel 'train' not found: set SM_CHANNEL_TRAIN or put CSV files in "
            f"{os.path.join(paths.root, 'input', 'data', 'train')}"
        )
    say = log if ctx.is_main else (lambda _: None)
    if shards.streams(hp, ctx):
        prepared = shards.prepare(paths, hp, ctx, lambda name, schema: _load_channel(name, paths, schema, hp), say)
    else:
        prepared = _prepare_in_memory(paths, hp)
    schema, labels, features = prepared.schema, prepared.labels, prepared.features
    train_table, val_table, test_table = prepared.train, prepared.validation, prepared.test
    binary = len(labels) == 2
    positive_label = (schema.positive_label or labels[-1]) if binary else None
    if positive_label is not None and positive_label not in labels:
        raise DataCheckError(f"positive_label {positive_label!r} is not one of the labels {labels}")
    positive_index = labels.index(positive_label) if positive_label is not None else None
    label_index = {label: i for i, label in enumerate(labels)}

    def tensors(table: Table, channel: str):
        x = torch.from_numpy(preprocess.transform(table, features, channel))
        y = torch.tensor([label_index[v] for v in table.columns[schema.label]], dtype=torch.long)
        return x, y

    x_train, y_train = tensors(train_table, "train")
    x_val, y_val = tensors(val_table, "validation")
    x_test, y_test = tensors(test_table, "test")

    result = train(
        hp, x_train, y_train, x_val, y_val, len(labels), paths.checkpoint_dir, positive_index, log=say,
        stream=prepared.stream,
    )
    if not ctx.is_main:  # rank 0 alone evaluates and writes the bundle
        return {}
    device = torch.device(result.device)
    model = result.model

    test_probabilities = evaluate(model, x_test, device)
    test_metrics = classification_metrics(y_test.numpy(), test_probabilities, positive_index)
    val_probabilities = evaluate(model, x_val, device)
    validation_metrics = {
        "loss": log_loss(y_val.numpy(), val_probabilities),
        "accuracy": float((val_probabilities.argmax(axis=1) == y_val.numpy()).mean()),
    }
    metrics: Dict[str, object] = {"test": test_metrics, "validation": validation_metrics}
    if schema.segment_column:
        segment_values = test_table.columns[schema.segment_column]
        per_segment = {}
        for value in sorted({v for v in segment_values if v is not None}, key=str):
            mask = np.array([v == value for v in segment_values])
            m = classification_metrics(y_test.numpy()[mask], test_probabilities[mask], positive_index)
            per_segment[str(value)] = {k: m[k] for k in ("accuracy", "precision", "recall", "f1", "roc_auc", "n")}
        metrics["segments"] = {"column": schema.segment_column, "values": per_segment}
    log(
        " ".join(
            f"test_{k}={test_metrics[k]:.6f}"
            for k in ("accuracy", "precision", "recall", "f1", "roc_auc")
            if test_metrics[k] is not None
        )
    )

    os.makedirs(paths.model_dir, exist_ok=True)
    onnx_path = os.path.join(paths.model_dir, "model.onnx")
    exported = export.export_onnx(model, x_train.shape[1], onnx_path)
    sha256 = export.sha256_file(onnx_path)

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return exported(torch.from_numpy(x)).numpy()

    train_probabilities = predict(x_train.numpy())
    tracked = train_probabilities[:, positive_index] if positive_index is not None else train_probabilities.max(axis=1)

    instances = export.golden_instances(
        [test_table.row(i) for i in range(test_table.n)], features, hp.golden_cases
    )
    golden_x = preprocess.transform(preprocess.table_from_instances(instances, features), features, "golden")
    golden_y = predict(golden_x)
    golden = {
        "atol": 1e-5,
        "cases": [
            {"instance": inst, "features": [float(v) for v in gx], "output": [float(v) for v in gy]}
            for inst, gx, gy in zip(instances, golden_x, golden_y)
        ],
    }

    output: Dict[str, object] = {"labels": labels}
    if positive_label is not None:
        output["positive_label"] = positive_label
    manifest = {
        "schema_version": 1,
        "name": export.model_name(schema.name),
        "version": hp.version or export.make_version(sha256, now),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "framework": {"name": "pytorch", "version": torch.__version__.split("+")[0], "onnx_opset": export.ONNX_OPSET},
        "task": "binary_classification" if binary else "multiclass_classification",
        "model": {
            "file": "model.onnx",
            "sha256": sha256,
            "input_name": "input",
            "input_dim": int(x_train.shape[1]),
            "output_name": "probabilities",
        },
        "features": features,
        "output": output,
        "metrics": metrics,
        "reference": prepared.reference_statistics(tracked),
        "golden": "golden.json",
    }
    export.write_json(os.path.join(paths.model_dir, "manifest.json"), manifest)
    export.write_json(os.path.join(paths.model_dir, "golden.json"), golden)
    with open(os.path.join(paths.model_dir, "training_curve.svg"), "w", encoding="utf-8") as f:
        f.write(export.training_curve_svg(result.history, result.best_epoch))
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
    return manifest


def fail(paths: Paths, message: str, write: bool = True) -> None:
    """`write`: leave the reason in output/failure (rank 0 only; the others just print it)."""
    if write:
        try:
            os.makedirs(paths.output_dir, exist_ok=True)
            with open(paths.failure_file, "w", encoding="utf-8") as f:
                f.write(message[:1000] + "\n")  # SageMaker keeps the first 1024 characters
        except OSError:
            pass
    print(f"ERROR: {message}", file=sys.stderr, flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    paths = resolve_paths()
    ctx = distributed.LOCAL
    try:
        hp = load_hyperparameters(paths, argv)
        ctx = distributed.start(hp.device)
        run(paths, hp, ctx=ctx)
        return 0
    except (DataCheckError, ValueError) as err:
        fail(paths, str(err), ctx.is_main)
        return 1
    except Exception as err:  # noqa: BLE001 - the job must always leave a failure reason
        traceback.print_exc()
        fail(paths, f"unexpected error: {type(err).__name__}: {err}", ctx.is_main)
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
