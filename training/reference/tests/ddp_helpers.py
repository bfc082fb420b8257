"""Sharded /opt/ml trees and multi-process trainer runs (torchrun with gloo on this machine)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional

from ml_trainer import sample_data

from .helpers import REFERENCE_DIR

ENTRY = os.path.join(REFERENCE_DIR, "entry.py")
Row = Dict[str, Optional[object]]


def make_shard_root(rows: int = 2400, files: int = 4, seed: int = 11, mutate: Optional[Callable[[List[List[Row]]], None]] = None) -> str:
    """The sample data set as `files` CSV shards (round-robin rows) plus schema.json."""
    root = tempfile.mkdtemp(prefix="ml-trainer-ddp-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    train_dir = os.path.join(root, "input", "data", "train")
    os.makedirs(train_dir)
    data = sample_data.generate_rows(rows, seed)
    shards = [data[i::files] for i in range(files)]
    if mutate:
        mutate(shards)
    for i, shard in enumerate(shards):
        sample_data.write_csv(os.path.join(train_dir, f"part-{i:03d}.csv"), shard, sample_data.COLUMNS)
    with open(os.path.join(train_dir, "schema.json"), "w", encoding="utf-8") as f:
        json.dump(sample_data.SCHEMA, f)
    return root


def copy_root(root: str) -> str:
    """The same input data in a fresh tree (no model, checkpoints or output)."""
    other = tempfile.mkdtemp(prefix="ml-trainer-ddp-")
    atexit.register(shutil.rmtree, other, ignore_errors=True)
    shutil.copytree(os.path.join(root, "input"), os.path.join(other, "input"))
    return other


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distributed_env(root: str, processes: int) -> Dict[str, str]:
    """How the image starts on one node: entry.py reads ML_PROCESSES_PER_NODE and starts torchrun."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        ML_ROOT=root,
        PYTHONUNBUFFERED="1",
        ML_PROCESSES_PER_NODE=str(processes),
        MASTER_PORT=str(free_port()),
        OMP_NUM_THREADS="1",
    )
    return env


def entry_command(*args: str) -> List[str]:
    return [sys.executable, ENTRY, "train", *args]


def run_processes(root: str, processes: int, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        entry_command(*args), env=distributed_env(root, processes), capture_output=True, text=True, timeout=timeout
    )


def read_manifest(root: str) -> dict:
    with open(os.path.join(root, "model", "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def worker_pids(launcher_pid: int) -> Dict[int, int]:
    """torchrun's trainer processes by LOCAL_RANK (Linux /proc)."""
    found: Dict[int, int] = {}
    with open(f"/proc/{launcher_pid}/task/{launcher_pid}/children", encoding="ascii") as f:
        children = [int(p) for p in f.read().split()]
    for pid in children:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except FileNotFoundError:
            continue
        if b"LOCAL_RANK" in env:
            found[int(env[b"LOCAL_RANK"])] = pid
    return found
