"""The network, the data pipeline and the training loop (early stopping, LR schedule,
checkpoints for spot interruptions, CUDA + mixed precision when present)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from .contract import Hyperparameters
from .metrics import log_loss, roc_auc

CHECKPOINT_FILE = "checkpoint.pt"
# Hyperparameters that do not change what is learned: a checkpoint stays valid across them.
_RUNTIME_ONLY = {
    "epochs", "version", "device", "amp", "num_workers", "golden_cases", "model_name",
    "objective_metric", "objective_parameter", "objective_target", "cv_folds",
}


class MLP(nn.Module):
    def __init__(self, input_dim: int, hidden: List[int], n_classes: int, dropout: float) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        width = input_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class WithSoftmax(nn.Module):
    """What is exported: the bundle contract wants probabilities, softmax inside the graph."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


class WithScale(nn.Module):
    """What is exported for regression: the network learns the standardized label, the graph
    answers in the label's units."""

    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model, self.mean, self.std = model, mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) * self.std + self.mean


class InMemoryBatches(Dataset):
    """Indexed by a whole list of row indices: one gather per batch instead of per row."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: List[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(index)
        return self.x[idx], self.y[idx]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def select_device(hp: Hyperparameters) -> torch.device:
    if hp.device == "cuda" or (hp.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def make_deterministic(device: torch.device) -> None:
    if device.type == "cuda":
        # cuBLAS needs this for deterministic GEMMs; some CUDA kernels have no deterministic
        # variant, so only warn there: bit-exact reproducibility is a CPU promise.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.use_deterministic_algorithms(True)


def class_weights(hp: Hyperparameters, y_train: torch.Tensor, n_classes: int) -> Optional[torch.Tensor]:
    """`class_weight=balanced`: each class weighs n / (n_classes * its count), so a rare class
    counts as much in the loss as a common one; `none`: every row weighs the same."""
    if hp.class_weight == "none":
        return None
    if hp.class_weight != "balanced":
        raise ValueError(f"hyperparameter 'class_weight' must be none or balanced, got {hp.class_weight!r}")
    counts = torch.bincount(y_train, minlength=n_classes).double()
    return (y_train.shape[0] / (n_classes * counts.clamp(min=1))).float()


def batch_size_for(hp: Hyperparameters, device: torch.device) -> int:
    if hp.batch_size > 0:
        return hp.batch_size
    # Small tabular rows: a GPU is only kept busy by large batches.
    return 2048 if device.type == "cuda" else 256


def make_loader(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device, generator: torch.Generator, workers: int
) -> DataLoader:
    sampler = BatchSampler(RandomSampler(range(x.shape[0]), generator=generator), batch_size, drop_last=False)
    # The data is already in memory, so worker processes would only add IPC; they pay off when
    # a team's __getitem__ decodes files. Pinned pages make the host->GPU copy asynchronous.
    num_workers = 0 if workers < 0 else workers
    return DataLoader(
        InMemoryBatches(x, y),
        sampler=sampler,
        batch_size=None,
        pin_memory=device.type == "cuda",
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def grad_scaler(enabled: bool):  # noqa: ANN202 - torch.amp.GradScaler only exists from 2.3
    if not enabled:
        return None
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def train_step(model: nn.Module, optimizer, criterion, scaler, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """One optimisation step; mixed precision when a GradScaler is given. Returns the detached loss."""
    optimizer.zero_grad(set_to_none=True)
    # No autocast context at all on CPU: torch 1.13's CPU autocast rejects float16.
    with torch.autocast(device_type="cuda", dtype=torch.float16) if scaler is not None else contextlib.nullcontext():
        loss = criterion(model(xb), yb)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.detach()


@dataclass
class TrainResult:
    model: MLP
    history: List[Dict[str, float]]
    best_epoch: int
    stopped_early: bool
    resumed_from: Optional[int]
    device: str
    amp: bool
    batch_size: int
    seconds: float
    samples_per_second: float


@dataclass
class _State:
    epoch: int = 0  # epochs completed
    best_val_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    history: List[Dict[str, float]] = field(default_factory=list)


def fingerprint(hp: Hyperparameters, *tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    learned = {k: v for k, v in asdict(hp).items() if k not in _RUNTIME_ONLY}
    h.update(json.dumps(learned, sort_keys=True).encode())
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def evaluate(
    model: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int = 8192, regression: bool = False
) -> np.ndarray:
    """Float32 outputs for every row, in row order: probabilities, or the [n, 1] regression output."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            raw = model(x[start : start + batch_size].to(device)).float()
            out.append((raw if regression else torch.softmax(raw, dim=1)).cpu())
    return torch.cat(out).numpy()


def train(
    hp: Hyperparameters,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    n_classes: int,
    checkpoint_dir: Optional[str],
    positive_index: Optional[int],
    log: Callable[[str], None] = print,
    on_epoch: Optional[Callable[[Dict[str, float]], None]] = None,
) -> TrainResult:
    device = select_device(hp)
    make_deterministic(device)
    seed_everything(hp.seed)
    use_amp = device.type == "cuda" and hp.amp != "off"
    batch_size = batch_size_for(hp, device)

    regression = n_classes == 0  # one output: the standardized label (y_* are [n, 1] floats)
    model = MLP(x_train.shape[1], hp.hidden_sizes(), n_classes or 1, hp.dropout).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=hp.lr_factor, patience=hp.lr_patience
    )
    scaler = grad_scaler(use_amp)
    if regression:
        if hp.class_weight != "none":
            raise ValueError("hyperparameter 'class_weight' applies to classification, not regression")
        criterion: nn.Module = nn.MSELoss()
    else:
        weights = class_weights(hp, y_train, n_classes)
        criterion = nn.CrossEntropyLoss(weight=None if weights is None else weights.to(device))
    state = _State()
    best_weights = copy.deepcopy(model.state_dict())
    resumed_from: Optional[int] = None
    print_ = fingerprint(hp, x_train, y_train, x_val, y_val)

    checkpoint_path = os.path.join(checkpoint_dir, CHECKPOINT_FILE) if checkpoint_dir else None
    if checkpoint_path and os.path.isfile(checkpoint_path):
        saved = torch.load(checkpoint_path, map_location="cpu")
        if saved.get("fingerprint") != print_:
            log(f"ignoring checkpoint {checkpoint_path}: it was written for other data or hyperparameters")
        else:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            if scaler is not None and saved.get("scaler"):
                scaler.load_state_dict(saved["scaler"])
            best_weights = saved["best_weights"]
            state = _State(**saved["state"])
            torch.set_rng_state(saved["rng"])
            if saved.get("cuda_rng") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(saved["cuda_rng"])
            resumed_from = state.epoch
            log(f"resumed from checkpoint at epoch {state.epoch} ({checkpoint_path})")

    x_val_dev, y_val_dev = x_val.to(device), y_val.to(device)
    stopped_early = state.bad_epochs >= hp.patience
    seen = 0
    started = time.perf_counter()
    while state.epoch < hp.epochs and not stopped_early:
        epoch = state.epoch + 1
        # Seeded per epoch: the shuffle order does not depend on whether we resumed.
        generator = torch.Generator()
        generator.manual_seed(hp.seed * 1000 + epoch)
        loader = make_loader(x_train, y_train, batch_size, device, generator, hp.num_workers)
        model.train()
        total = torch.zeros((), device=device)
        for xb, yb in loader:
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
            total += train_step(model, optimizer, criterion, scaler, xb, yb) * yb.shape[0]
            seen += yb.shape[0]
        train_loss = float(total.item()) / x_train.shape[0]

        outputs = evaluate(model, x_val_dev, device, regression=regression)
        y_val_np = y_val.numpy()
        val_accuracy: Optional[float] = None
        auc: Optional[float] = None
        if regression:
            val_loss = float(np.mean((outputs - y_val_np) ** 2))
        else:
            val_loss = log_loss(y_val_np, outputs)
            val_accuracy = float((outputs.argmax(axis=1) == y_val_np).mean())
            if positive_index is not None:
                auc = roc_auc(y_val_np == positive_index, outputs[:, positive_index])
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val_loss)

        if val_loss < state.best_val_loss - 1e-6:
            state.best_val_loss, state.best_epoch, state.bad_epochs = val_loss, epoch, 0
            best_weights = copy.deepcopy(model.state_dict())
        else:
            state.bad_epochs += 1
        state.epoch = epoch
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": lr}
        if val_accuracy is not None:
            row["val_accuracy"] = val_accuracy
        if auc is not None:
            row["val_roc_auc"] = auc
        state.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        line = f"epoch={epoch} train_loss={train_loss:.6f} val_loss={val_loss:.6f}"
        if val_accuracy is not None:
            line += f" val_accuracy={val_accuracy:.6f}"
        log(line + f" lr={lr:.6g}" + (f" val_roc_auc={auc:.6f}" if auc is not None else ""))
        stopped_early = state.bad_epochs >= hp.patience

        if checkpoint_path:
            _save_checkpoint(checkpoint_path, model, optimizer, scheduler, scaler, best_weights, state, print_)
            log(f"checkpoint saved epoch={epoch}")

    if stopped_early:
        log(f"early stopping: no validation-loss improvement for {hp.patience} epochs")
    seconds = time.perf_counter() - started
    model.load_state_dict(best_weights)
    # Last lines win in SageMaker metrics: report the epoch whose weights are exported.
    best = state.history[state.best_epoch - 1] if state.best_epoch else {}
    log(
        f"best epoch={state.best_epoch} val_loss={state.best_val_loss:.6f}"
        + (f" val_roc_auc={best['val_roc_auc']:.6f}" if "val_roc_auc" in best else "")
    )
    return TrainResult(
        model=model,
        history=state.history,
        best_epoch=state.best_epoch,
        stopped_early=stopped_early,
        resumed_from=resumed_from,
        device=device.type,
        amp=use_amp,
        batch_size=batch_size,
        seconds=seconds,
        samples_per_second=seen / seconds if seconds > 0 else 0.0,
    )


def _save_checkpoint(path, model, optimizer, scheduler, scaler, best_weights, state: _State, print_: str) -> None:
    """Written to a temp file and renamed: a kill mid-write never leaves a torn checkpoint."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(
        {
            "fingerprint": print_,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "best_weights": best_weights,
            "state": asdict(state),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        },
        tmp,
    )
    os.replace(tmp, path)
