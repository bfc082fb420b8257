"""Builds throwaway /opt/ml trees with the sample data set for the trainer tests."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional

from ml_trainer import sample_data
from ml_trainer.contract import Hyperparameters, resolve_paths
from ml_trainer.train import run

REFERENCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Row = Dict[str, Optional[object]]


def make_root(
    rows: int = 1500,
    seed: int = 7,
    mutate_rows: Optional[Callable[[List[Row]], None]] = None,
    mutate_schema: Optional[Callable[[dict], None]] = None,
    columns: Optional[List[str]] = None,
) -> str:
    root = tempfile.mkdtemp(prefix="ml-trainer-test-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    train_dir = os.path.join(root, "input", "data", "train")
    os.makedirs(train_dir)
    data = sample_data.generate_rows(rows, seed)
    if mutate_rows:
        mutate_rows(data)
    sample_data.write_csv(os.path.join(train_dir, "train.csv"), data, columns or sample_data.COLUMNS)
    schema = json.loads(json.dumps(sample_data.SCHEMA))
    if mutate_schema:
        mutate_schema(schema)
    with open(os.path.join(train_dir, "schema.json"), "w", encoding="utf-8") as f:
        json.dump(schema, f)
    return root


def train_in_process(root: str, **hyperparameters: object) -> dict:
    paths = resolve_paths({"ML_ROOT": root})
    with contextlib.redirect_stdout(io.StringIO()):
        return run(paths, Hyperparameters(**hyperparameters))  # type: ignore[arg-type]


def trainer_command(*args: str) -> List[str]:
    return [sys.executable, os.path.join(REFERENCE_DIR, "train.py"), "train", *args]


def run_trainer(root: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "ML_ROOT": root, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(trainer_command(*args), env=env, capture_output=True, text=True, timeout=timeout)
