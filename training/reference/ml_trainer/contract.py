"""The SageMaker training contract: where inputs, outputs and hyperparameters live.

SageMaker (and our Batch entry point, and the launcher's local mode) lay out /opt/ml:

    input/config/hyperparameters.json   all values are strings
    input/data/<channel>/*.csv          train, validation, test
    model/                              the bundle; SageMaker tars it into model.tar.gz
    output/failure                      one line: why the job failed (becomes FailureReason)
    output/data/                        extra outputs (evaluation.json)
    checkpoints/                        synced to S3 by managed spot training

`SM_*` variables (set by the SageMaker training toolkit in framework containers) win over
the defaults; `ML_ROOT` moves the whole tree (local mode and tests).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, fields
from typing import Dict, List, Optional


@dataclass(frozen=True)
class Paths:
    root: str
    config_dir: str
    model_dir: str
    output_dir: str
    output_data_dir: str
    checkpoint_dir: str
    channels: Dict[str, str]

    @property
    def failure_file(self) -> str:
        return os.path.join(self.output_dir, "failure")

    @property
    def hyperparameters_file(self) -> str:
        return os.path.join(self.config_dir, "hyperparameters.json")


CHANNELS = ("train", "validation", "test")


def resolve_paths(env: Optional[Dict[str, str]] = None) -> Paths:
    env = dict(os.environ if env is None else env)
    root = env.get("ML_ROOT", "/opt/ml")
    data_dir = os.path.join(root, "input", "data")
    channels: Dict[str, str] = {}
    for channel in CHANNELS:
        path = env.get(f"SM_CHANNEL_{channel.upper()}", os.path.join(data_dir, channel))
        if os.path.isdir(path):
            channels[channel] = path
    output_dir = env.get("SM_OUTPUT_DIR", os.path.join(root, "output"))
    return Paths(
        root=root,
        config_dir=env.get("SM_INPUT_CONFIG_DIR", os.path.join(root, "input", "config")),
        model_dir=env.get("SM_MODEL_DIR", os.path.join(root, "model")),
        output_dir=output_dir,
        output_data_dir=env.get("SM_OUTPUT_DATA_DIR", os.path.join(output_dir, "data")),
        checkpoint_dir=env.get("ML_CHECKPOINT_DIR", os.path.join(root, "checkpoints")),
        channels=channels,
    )


@dataclass(frozen=True)
class Hyperparameters:
    """Every knob of the reference trainer. The launcher's tune ranges use these names."""

    target: str = ""  # label column; "" = from schema.json, else "label"
    task: str = ""  # classification | regression; "" = from schema.json, else classification
    model_name: str = ""  # manifest name; "" = from schema.json, else "model"
    version: str = ""  # manifest version; "" = <UTC timestamp>-<model sha256 prefix>
    segment_column: str = ""  # per-segment metrics; "" = from schema.json, "none" = off
    epochs: int = 40  # maximum; early stopping usually ends sooner
    patience: int = 5  # epochs without validation-loss improvement before stopping
    batch_size: int = 0  # 0 = auto: 256 on CPU, 2048 on GPU
    lr: float = 0.003
    weight_decay: float = 1e-4
    hidden: str = "64,32"  # hidden layer widths
    dropout: float = 0.1
    lr_factor: float = 0.5  # ReduceLROnPlateau factor
    lr_patience: int = 2  # ReduceLROnPlateau patience (epochs)
    seed: int = 42
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_missing_fraction: float = 0.5  # per column
    max_duplicate_fraction: float = 0.05  # exact duplicate rows tolerated (then dropped)
    min_class_count: int = 20
    min_class_fraction: float = 0.01
    min_rows: int = 100
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (on for CUDA) | on | off
    num_workers: int = -1  # DataLoader workers; -1 = auto
    stream: str = "auto"  # stream CSV shards from disk: auto (when several processes) | on | off
    golden_cases: int = 16
    # The team's objective (training.objective in the team file; docs/model-bundle.md "Quality").
    objective_metric: str = ""  # "" = f1; one of ml_trainer.objectives.OBJECTIVE_METRICS
    objective_parameter: str = ""  # the recall or precision floor of *_at_* metrics, in (0, 1]
    objective_target: str = ""  # the value the test split must reach; "" = no target
    class_weight: str = "none"  # none | balanced (weights inversely proportional to class counts)
    cv_folds: int = 0  # k-fold cross-validation of the primary metric on the training split; 0 = off

    def hidden_sizes(self) -> List[int]:
        return [int(x) for x in self.hidden.split(",") if x.strip()]


def _coerce(name: str, raw: object, default: object) -> object:
    try:
        if isinstance(default, int):
            return int(float(str(raw)))
        if isinstance(default, float):
            return float(str(raw))
        return str(raw)
    except ValueError:
        raise ValueError(f"hyperparameter '{name}' must be a {type(default).__name__}, got {raw!r}") from None


def load_hyperparameters(paths: Paths, argv: Optional[List[str]] = None) -> Hyperparameters:
    """CLI flags win over hyperparameters.json, which wins over the defaults."""
    defaults = Hyperparameters()
    values: Dict[str, object] = {}
    known = {f.name for f in fields(Hyperparameters)}
    if os.path.isfile(paths.hyperparameters_file):
        with open(paths.hyperparameters_file, encoding="utf-8") as f:
            raw = json.load(f)
        for key, value in raw.items():
            # SageMaker adds its own keys (sagemaker_*, _tuning_objective_metric): skip them.
            if key in known:
                values[key] = _coerce(key, value, getattr(defaults, key))
    parser = argparse.ArgumentParser(description="Reference tabular trainer (SageMaker contract)")
    parser.add_argument("mode", nargs="?", default="train", help="SageMaker passes 'train'")
    for f in fields(Hyperparameters):
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None)
    args = parser.parse_args(argv)
    for f in fields(Hyperparameters):
        value = getattr(args, f.name)
        if value is not None:
            values[f.name] = _coerce(f.name, value, getattr(defaults, f.name))
    return Hyperparameters(**values)  # type: ignore[arg-type]
