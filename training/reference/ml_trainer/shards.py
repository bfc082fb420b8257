"""Training data larger than memory: a channel of many CSV shard files, streamed, each rank
reading its own shards.

Used when the trainer runs with more than one process, or with `--hp stream=on`:

1. **Scan** (one pass over this rank's shards, in chunks): the data checks, per chunk, with
   the failing file, line and column; the training split's sums, counts and categories; a
   bottom-k sample of the training split; the validation and test rows.
2. **Reduce**: every rank gathers every rank's summaries, so the preprocessing statistics
   and the bundle's reference statistics cover the whole training split, and the checks that
   need the whole channel (row count, classes, missing fractions) see all of it.
3. **Materialize** (a second pass): this rank's training rows, preprocessed, go to a float32
   file in `ML_SCRATCH_DIR` (default: the temp dir) that each epoch reads in shuffled blocks,
   so memory holds one block, not the data set.

Rows go to train / validation / test by a hash of the row's text, not a stratified shuffle,
so the split of a row does not depend on the world size or on which rank reads it, and exact
duplicates land in the same split (no leakage). Exact duplicate rows are not dropped.

Quantiles (numeric imputation medians and reference bucket edges, the prediction buckets) are
computed on a bottom-k sample of `SAMPLE_ROWS` training rows: the rows with the smallest row
hashes over all ranks, a uniform sample that is the same for any world size (exact when the
training split has at most `SAMPLE_ROWS` rows). Means, standard deviations, vocabularies,
category and missing fractions and `n` are exact, reduced from per-rank sums and counts.

CSV only: Parquet needs pyarrow, which Debian does not package (python3-pyarrow).
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import heapq
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import preprocess
from .contract import Hyperparameters, Paths
from .data import (
    DataCheckError,
    Schema,
    Table,
    check_classes,
    check_missing_fraction,
    check_row_count,
    check_table,
    iter_csv,
    load_schema,
    parse_table,
)
from .distributed import Context

SAMPLE_ROWS = 10_000
CHUNK_ROWS = 4096
BLOCKS_PER_SHUFFLE = 16  # a shuffle block holds this many local batches
PREFIX = "data check failed: "
SCRATCH_ENV = "ML_SCRATCH_DIR"

Row = Tuple[int, int, List[str]]  # (file index, line number, fields)


def streams(hp: Hyperparameters, ctx: Context) -> bool:
    """`stream=auto` streams exactly when the job has more than one process."""
    if hp.stream not in ("auto", "on", "off"):
        raise ValueError(f"hyperparameter 'stream' must be auto, on or off, got {hp.stream!r}")
    if hp.stream == "off" and ctx.distributed:
        raise ValueError(
            f"hyperparameter stream=off needs a single process, but this job runs {ctx.world_size}: "
            "data-parallel training always streams shards"
        )
    return hp.stream == "on" or ctx.distributed


def shard_files(channel: str, path: str) -> List[str]:
    parquet = sorted(glob.glob(os.path.join(path, "*.parquet")))
    if parquet:
        raise DataCheckError(
            f"channel '{channel}': {os.path.basename(parquet[0])} is Parquet; this trainer reads CSV shards "
            "only (pyarrow is not in its image): convert the shards to CSV"
        )
    files = sorted(glob.glob(os.path.join(path, "*.csv")))
    if not files:
        raise DataCheckError(f"channel '{channel}' has no .csv file in {path}")
    return files


@dataclass(frozen=True)
class ShardPlan:
    """Whole files round-robin when there are at least as many files as ranks; otherwise
    every rank reads every file and keeps every world_size-th data row."""

    files: Tuple[int, ...]
    stride: int
    offset: int


def plan(n_files: int, rank: int, world_size: int) -> ShardPlan:
    if n_files >= world_size:
        return ShardPlan(tuple(range(rank, n_files, world_size)), 1, 0)
    return ShardPlan(tuple(range(n_files)), world_size, rank)


def _rows(channel: str, files: Sequence[str], header: List[str], shard: ShardPlan) -> Iterator[Row]:
    for index in shard.files:
        lines = iter_csv(channel, files[index], header)
        next(lines)
        for k, (line, row) in enumerate(lines):
            if k % shard.stride == shard.offset:
                yield index, line, row


def _chunks(rows: Iterator[Row], size: int = CHUNK_ROWS) -> Iterator[List[Row]]:
    chunk: List[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def row_hash(row: Sequence[str]) -> float:
    """Uniform in [0, 1), from the row's text alone."""
    digest = hashlib.blake2b("\x1f".join(row).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split_of(u: float, thresholds: Tuple[float, float]) -> int:
    """0 train, 1 validation, 2 test; thresholds are the cumulative split fractions."""
    return 1 if u < thresholds[0] else 2 if u < thresholds[1] else 0


_WHERE = re.compile(r"\s*\(channel '[^']*'(, data row \d+)?\)$")


def _located(channel: str, file: str, line: int, err: DataCheckError) -> DataCheckError:
    text = _WHERE.sub("", str(err)[len(PREFIX) :])
    return DataCheckError(f"{text} (channel '{channel}', file {os.path.basename(file)}, line {line})")


@dataclass(frozen=True)
class _Source:
    """This rank's view of the training channel."""

    channel: str
    files: List[str]
    header: List[str]
    shard: ShardPlan
    schema: Schema
    thresholds: Tuple[float, float]

    def chunks(self) -> Iterator[List[Row]]:
        return _chunks(_rows(self.channel, self.files, self.header, self.shard))


def _checked(source: _Source, chunk: List[Row], hp: Hyperparameters) -> Table:
    """Parses and checks a chunk; on a failure, finds the first failing row to name its line.
    Only row-local checks run here (missing fractions are checked on the reduced counts)."""
    channel, header, schema = source.channel, source.header, source.schema
    try:
        table = parse_table(channel, header, [r for _, _, r in chunk], schema)
        return check_table(channel, table, schema, hp, is_train=False)
    except DataCheckError:
        for index, line, row in chunk:
            try:
                check_table(channel, parse_table(channel, header, [row], schema), schema, hp, is_train=False)
            except DataCheckError as err:
                raise _located(channel, source.files[index], line, err) from None
        raise


def _moments(values: np.ndarray) -> Tuple[int, float, float]:
    if values.size == 0:
        return 0, 0.0, 0.0
    mean = float(values.mean())
    return int(values.size), mean, float(((values - mean) ** 2).sum())


def _merge(a: Tuple[int, float, float], b: Tuple[int, float, float]) -> Tuple[int, float, float]:
    """Chan et al.'s pairwise update of (count, mean, sum of squared deviations)."""
    (na, ma, sa), (nb, mb, sb) = a, b
    n = na + nb
    if n == 0:
        return 0, 0.0, 0.0
    d = mb - ma
    return n, ma + d * nb / n, sa + sb + d * d * na * nb / n


@dataclass
class Summary:
    """What one rank's scan reduces to; picklable, gathered by every rank."""

    rows: int = 0  # rows of the train channel (all splits), for the channel-wide checks
    labels: Dict[str, int] = field(default_factory=dict)
    missing: Dict[str, int] = field(default_factory=dict)
    train_rows: int = 0
    train_missing: Dict[str, int] = field(default_factory=dict)
    moments: Dict[str, Tuple[int, float, float]] = field(default_factory=dict)
    categories: Dict[str, Dict[str, int]] = field(default_factory=dict)
    sample: List[Tuple[float, int, int, List[str]]] = field(default_factory=list)  # max-heap by -u
    held: Dict[int, List[Row]] = field(default_factory=lambda: {1: [], 2: []})


def _count(target: Dict[str, int], key: str, n: int) -> None:
    target[key] = target.get(key, 0) + n


def _scan(source: _Source, hp: Hyperparameters, summary: Summary) -> None:
    chunk_hp = replace(hp, max_missing_fraction=1.0)
    schema = source.schema
    for chunk in source.chunks():
        table = _checked(source, chunk, chunk_hp)
        splits = np.array([split_of(row_hash(r), source.thresholds) for _, _, r in chunk])
        train = splits == 0
        summary.rows += table.n
        summary.train_rows += int(train.sum())
        for v in table.columns[schema.label]:
            _count(summary.labels, v, 1)
        for spec in schema.features:
            values = table.columns[spec.name]
            if spec.type == "numeric":
                missing = np.isnan(values)
                present = values[train & ~missing]
                summary.moments[spec.name] = _merge(summary.moments.get(spec.name, (0, 0.0, 0.0)), _moments(present))
            else:
                missing = np.array([v is None for v in values], dtype=bool)
                counts = summary.categories.setdefault(spec.name, {})
                for v, keep in zip(values, train):
                    if keep and v is not None:
                        _count(counts, v, 1)
            _count(summary.missing, spec.name, int(missing.sum()))
            _count(summary.train_missing, spec.name, int((missing & train).sum()))
        for (index, line, row), split in zip(chunk, splits):
            if split:
                summary.held[int(split)].append((index, line, row))
                continue
            entry = (-row_hash(row), -index, -line, row)
            if len(summary.sample) < SAMPLE_ROWS:
                heapq.heappush(summary.sample, entry)
            elif entry > summary.sample[0]:
                heapq.heapreplace(summary.sample, entry)


def _infer_types(channel: str, files: Sequence[str], header: List[str], schema: Schema) -> None:
    """Inferred schemas take their types from the head of the first shard, the same on every
    rank; inferred features are optional (imputed) because one chunk cannot prove otherwise."""
    if all(spec.type for spec in schema.features):
        return
    head = [r for _, _, r in next(_chunks(_rows(channel, files, header, plan(1, 0, 1))), [])]
    parse_table(channel, header, head, schema)
    for spec in schema.features:
        spec.required = False


def _raise_first(errors: Sequence[Optional[str]]) -> None:
    first = next((e for e in errors if e), None)
    if first:
        raise DataCheckError(first[len(PREFIX) :])


class TrainStream:
    """This rank's preprocessed training rows on disk, read in shuffled blocks each epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, rows: int, ctx: Context, seed: int, identity: bytes) -> None:
        self.x, self.y, self.rows, self.ctx, self.seed = x, y, rows, ctx, seed
        self.identity = torch.tensor(list(identity), dtype=torch.uint8)

    def batches(self, epoch: int, batch_size: int) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """`batch_size` is the global batch: each rank takes its share of it."""
        local = max(1, math.ceil(batch_size / self.ctx.world_size))
        block = local * BLOCKS_PER_SHUFFLE
        rng = np.random.RandomState((self.seed * 1000 + epoch) * 1009 + self.ctx.rank)
        n = self.y.shape[0]
        for start in rng.permutation(max(math.ceil(n / block), 0)) * block:
            stop = min(start + block, n)
            order = start + rng.permutation(stop - start)
            for s in range(0, order.size, local):
                idx = np.sort(order[s : s + local])  # sorted: forward reads within the block
                yield torch.from_numpy(np.ascontiguousarray(self.x[idx])), torch.from_numpy(self.y[idx])


@dataclass
class Prepared:
    """The splits and preprocessing, whichever way the data was read. When streaming,
    `train` is the training sample, not the whole split."""

    schema: Schema
    labels: List[str]
    train: Table
    validation: Table
    test: Table
    features: List[Dict[str, object]]
    stream: Optional[TrainStream] = None
    exact: Optional[Callable[[Dict[str, object]], Dict[str, object]]] = None

    def reference_statistics(self, tracked_prediction: np.ndarray) -> Dict[str, object]:
        stats = preprocess.reference_statistics(self.train, self.features, tracked_prediction)
        return self.exact(stats) if self.exact else stats


def _held_table(channel: str, header, schema, rows: List[Row]) -> Table:
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))  # file, line: the same for any world size
    return parse_table(channel, header, [r for _, _, r in ordered], schema)


def prepare(
    paths: Paths,
    hp: Hyperparameters,
    ctx: Context,
    load_channel: Callable[[str, Schema], Table],
    log: Callable[[str], None],
) -> Prepared:
    channel = "train"
    files = shard_files(channel, paths.channels[channel])
    _, header = next(iter_csv(channel, files[0], None))
    schema = load_schema(paths.channels[channel], header, hp)
    if schema.regression:
        raise ValueError("streaming (several processes or stream=on) supports classification only")
    _infer_types(channel, files, header, schema)
    val_cut = hp.val_fraction if "validation" not in paths.channels else 0.0
    thresholds = (val_cut, val_cut + (hp.test_fraction if "test" not in paths.channels else 0.0))
    source = _Source(channel, files, header, plan(len(files), ctx.rank, ctx.world_size), schema, thresholds)

    summary, error = Summary(), None
    try:
        _scan(source, hp, summary)
    except DataCheckError as err:
        error = str(err)
    _raise_first(ctx.gather(error))  # every rank stops on the first rank's failure
    summaries: List[Summary] = ctx.gather(summary)

    total = Summary()
    for s in summaries:
        total.rows += s.rows
        total.train_rows += s.train_rows
        pairs = ((total.labels, s.labels), (total.missing, s.missing), (total.train_missing, s.train_missing))
        for target, part in pairs:
            for k, v in part.items():
                _count(target, k, v)
        for name, m in s.moments.items():
            total.moments[name] = _merge(total.moments.get(name, (0, 0.0, 0.0)), m)
        for name, counts in s.categories.items():
            for k, v in counts.items():
                _count(total.categories.setdefault(name, {}), k, v)
    check_row_count(channel, total.rows, hp)
    check_classes(schema.label, total.labels, total.rows, hp)
    for spec in schema.features:
        check_missing_fraction(channel, spec.name, total.missing.get(spec.name, 0), total.rows, hp)
    if total.train_rows == 0:
        raise DataCheckError(f"channel '{channel}': no row fell into the training split")
    labels: List[str] = schema.labels or sorted(total.labels)
    label_index = {label: i for i, label in enumerate(labels)}

    sample_rows = sorted((-e[0], -e[1], -e[2], e[3]) for s in summaries for e in s.sample)[:SAMPLE_ROWS]
    sample = parse_table(channel, header, [r for *_, r in sample_rows], schema)
    features = preprocess.fit(sample, schema)
    for f in features:
        name = str(f["name"])
        if f["type"] == "numeric":
            n, mean, m2 = total.moments[name]
            if n == 0:
                raise DataCheckError(f"column '{name}' has no values in the training split (channel '{channel}')")
            f["mean"], f["std"] = mean, math.sqrt(m2 / n)
        else:
            vocabulary, mode = preprocess.vocabulary_and_mode(total.categories.get(name, {}))
            f["vocabulary"] = vocabulary
            f["impute"] = None if f["required"] else mode

    def held(split: int, name: str) -> Table:
        if name in paths.channels:
            return load_channel(name, schema)
        return _held_table(name, header, schema, [r for s in summaries for r in s.held[split]])

    validation, test = held(1, "validation"), held(2, "test")
    for name, table in (("validation", validation), ("test", test)):
        if table.n == 0:
            raise DataCheckError(f"the {name} split is empty: give a '{name}' channel or raise {name[:3]}_fraction")

    stream = _materialize(source, features, label_index, total.train_rows, ctx, hp.seed, paths.channels)

    def exact(stats: Dict[str, object]) -> Dict[str, object]:
        stats["n"] = total.train_rows
        for name, ref in stats["features"].items():  # type: ignore[union-attr]
            missing = total.train_missing.get(name, 0)
            if ref["type"] == "numeric":
                ref["missing"] = missing / total.train_rows
            else:
                counts = total.categories.get(name, {})
                present = max(sum(counts.values()), 1)
                ref["fractions"] = {v: counts.get(v, 0) / present for v in ref["fractions"]}
                ref["unknown"] = 0.0  # the vocabulary is every category of the training split
                ref["missing"] = missing / total.train_rows
        return stats

    log(
        f"train channel: {len(files)} shard files, {total.rows} rows over {ctx.world_size} rank(s) "
        f"{f'({ctx.backend}) ' if ctx.backend else ''}"
        f"(this rank: {len(source.shard.files)} files, {stream.y.shape[0]} training rows), "
        f"{len(schema.features)} features, label '{schema.label}'"
    )
    log(
        f"split: train={total.train_rows} validation={validation.n} test={test.n} "
        f"(by row hash; statistics reduced over all ranks, quantiles from a {sample.n}-row sample)"
    )
    return Prepared(schema, labels, sample, validation, test, features, stream, exact)


def _materialize(
    source: _Source,
    features: List[Dict[str, object]],
    label_index: Dict[str, int],
    rows: int,
    ctx: Context,
    seed: int,
    channels: Dict[str, str],
) -> TrainStream:
    channel, schema = source.channel, source.schema
    scratch = tempfile.mkdtemp(prefix=f"ml-shards-rank{ctx.rank}-", dir=os.environ.get(SCRATCH_ENV) or None)
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    x_path, y_path = os.path.join(scratch, "x.f32"), os.path.join(scratch, "y.i64")
    n = 0
    with open(x_path, "wb") as xf, open(y_path, "wb") as yf:
        for chunk in source.chunks():
            train = [r for _, _, r in chunk if split_of(row_hash(r), source.thresholds) == 0]
            if not train:
                continue
            table = parse_table(channel, source.header, train, schema)
            xf.write(preprocess.transform(table, features, channel).tobytes())
            yf.write(np.array([label_index[v] for v in table.columns[schema.label]], dtype=np.int64).tobytes())
            n += table.n
    dim = preprocess.input_dim(features)
    x = np.memmap(x_path, dtype=np.float32, mode="r", shape=(n, dim)) if n else np.zeros((0, dim), np.float32)
    y = np.memmap(y_path, dtype=np.int64, mode="r", shape=(n,)) if n else np.zeros((0,), np.int64)
    identity = {
        "channels": {
            name: [(os.path.basename(f), os.path.getsize(f)) for f in sorted(glob.glob(os.path.join(path, "*.csv")))]
            for name, path in sorted(channels.items())
        },
        "thresholds": source.thresholds,
    }
    return TrainStream(x, y, rows, ctx, seed, json.dumps(identity, sort_keys=True).encode())
