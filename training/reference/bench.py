"""Training throughput: the trainer's pipeline vs the raw training-loop ceiling.

    python3 bench.py [--rows 30000] [--epochs 3]

For each device (CPU, and CUDA when present) it measures, in training samples per second:
- end to end: CSV -> data checks -> preprocessing -> training -> evaluation -> bundle export
- trainer loop: the trainer's train() (DataLoader, host->device copies, validation each epoch)
- raw ceiling: the same network, batch size, optimizer and precision, with the training data
  already on the device as tensors and batches taken by slicing a permutation
The ratio pipeline/ceiling shows what the data pipeline and bookkeeping cost.

Then data-parallel scaling, in the same run: the trainer started the way the image starts
(entry.py -> torchrun, streamed CSV shards, the same global batch) with 1 and with
`--processes` processes (gloo on CPU, NCCL on CUDA), reporting the trainer loop's samples/s
(all ranks together) and the scaling efficiency = (N-process samples/s) / (N x 1-process).
`--batch-size 8192` measures the large-batch GPU case.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace

import torch
from torch import nn

from ml_trainer import sample_data
from ml_trainer.contract import Hyperparameters, resolve_paths
from ml_trainer.model import MLP, batch_size_for, grad_scaler, make_deterministic, seed_everything, train, train_step
from ml_trainer.train import run
from tests.ddp_helpers import copy_root, distributed_env, entry_command, make_shard_root


def prepared_data(rows: int):
    root = tempfile.mkdtemp(prefix="ml-bench-")
    sample_data.write_sample(os.path.join(root, "input", "data", "train"), rows=rows, seed=7)
    return root


def end_to_end(root: str, hp: Hyperparameters) -> float:
    paths = resolve_paths({"ML_ROOT": root})
    shutil.rmtree(paths.checkpoint_dir, ignore_errors=True)  # each run trains from scratch
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        manifest = run(paths, hp)
    seconds = time.perf_counter() - started
    return manifest["reference"]["n"] * hp.epochs / seconds


def tensors(n: int, dim: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.8).long()
    return x, y


def trainer_loop(hp: Hyperparameters, n: int, dim: int) -> float:
    x, y = tensors(n, dim)
    xv, yv = tensors(max(n // 5, 1), dim, seed=1)
    result = train(hp, x, y, xv, yv, 2, None, 1, log=lambda _: None)
    return result.samples_per_second


def raw_ceiling(hp: Hyperparameters, n: int, dim: int, device: torch.device) -> float:
    make_deterministic(device)
    seed_everything(hp.seed)
    x, y = tensors(n, dim)
    x, y = x.to(device), y.to(device)
    model = MLP(dim, hp.hidden_sizes(), 2, hp.dropout).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    criterion = nn.CrossEntropyLoss()
    scaler = grad_scaler(device.type == "cuda" and hp.amp != "off")
    batch = batch_size_for(hp, device)
    model.train()
    seen = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(hp.epochs):
        order = torch.randperm(n, device=device)
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            train_step(model, optimizer, criterion, scaler, x[idx], y[idx])
            seen += idx.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - started)


def data_parallel(root: str, processes: int, epochs: int, batch_size: int) -> float:
    """The trainer loop's samples/s over all ranks, from the run's evaluation.json."""
    run_root = copy_root(root)
    args = ["--stream", "on", "--epochs", str(epochs), "--patience", str(10**6), "--batch-size", str(batch_size)]
    done = subprocess.run(entry_command(*args), env=distributed_env(run_root, processes), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{processes}-process run failed: {done.stderr[-2000:]}")
    with open(os.path.join(run_root, "output", "data", "evaluation.json"), encoding="utf-8") as f:
        return float(json.load(f)["training"]["train_samples_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=30000, help="sample data rows (70%% are the training split)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--processes", type=int, default=2, help="data-parallel processes to compare with 1")
    parser.add_argument("--batch-size", type=int, default=0, help="global batch (0 = the trainer's default)")
    parser.add_argument("--scaling-repeats", type=int, default=3)
    args = parser.parse_args()

    root = prepared_data(args.rows)
    try:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        base = Hyperparameters(epochs=args.epochs, patience=10**6, batch_size=args.batch_size)
        n_train, dim = int(args.rows * 0.7), 14
        rows = []
        for device in devices:
            hp = replace(base, device=device)
            # Interleaved, best of `repeats`: a shared machine only ever makes a run slower, and
            # interleaving spreads its noise over the three measurements alike.
            e2e = loop = ceiling = 0.0
            for _ in range(args.repeats):
                e2e = max(e2e, end_to_end(root, hp))
                loop = max(loop, trainer_loop(hp, n_train, dim))
                ceiling = max(ceiling, raw_ceiling(hp, n_train, dim, torch.device(device)))
            batch = batch_size_for(hp, torch.device(device))
            threads = torch.get_num_threads()
            cpu = f"{platform.processor() or platform.machine()}, {threads} thread{'s' if threads != 1 else ''}"
            name = torch.cuda.get_device_name(0) if device == "cuda" else cpu
            rows.append((device, name, batch, e2e, loop, ceiling))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    shards = make_shard_root(rows=args.rows, files=max(4, args.processes * 2), seed=7)
    batch = args.batch_size or batch_size_for(base, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    one = many = 0.0
    for _ in range(args.scaling_repeats if args.processes > 1 else 0):  # interleaved, best of: as above
        one = max(one, data_parallel(shards, 1, args.epochs, batch))
        many = max(many, data_parallel(shards, args.processes, args.epochs, batch))

    print(
        f"PyTorch {torch.__version__}, {n_train} training rows x {args.epochs} epochs, MLP {base.hidden}, "
        f"input dim {dim}, best of {args.repeats}"
    )
    print()
    print("| device | batch | end to end (samples/s) | trainer loop (samples/s) | raw loop ceiling (samples/s) | trainer loop / ceiling |")
    print("| --- | --- | --- | --- | --- | --- |")
    for device, name, batch, e2e, loop, ceiling in rows:
        print(f"| {device} ({name}) | {batch} | {e2e:,.0f} | {loop:,.0f} | {ceiling:,.0f} | {loop / ceiling:.2f} |")

    if args.processes < 2:
        return
    backend = "nccl, 1 GPU each" if torch.cuda.is_available() else "gloo, CPU"
    print()
    print(
        f"Data-parallel ({backend}; streamed CSV shards, global batch {batch}, "
        f"best of {args.scaling_repeats}, {os.cpu_count()} CPUs on this machine):"
    )
    print()
    print("| processes | trainer loop (samples/s, all ranks) | vs 1 process | scaling efficiency |")
    print("| --- | --- | --- | --- |")
    print(f"| 1 | {one:,.0f} | 1.00x | 1.00 |")
    print(f"| {args.processes} | {many:,.0f} | {many / one:.2f}x | {many / (one * args.processes):.2f} |")


if __name__ == "__main__":
    main()
