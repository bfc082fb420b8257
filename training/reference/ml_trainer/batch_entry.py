"""Container entry point for SageMaker and AWS Batch.

SageMaker stages data, checkpoints and the model itself, so there this just runs the
trainer. AWS Batch stages nothing: when `ML_INPUT_S3_URI` is set this script plays
SageMaker's part around the same trainer:

    ML_INPUT_S3_URI       s3:// prefix with one folder per channel (train/, validation/, test/)
    ML_OUTPUT_S3_URI      s3:// prefix that receives model.tar.gz (or `failure` on error)
    ML_CHECKPOINT_S3_URI  s3:// prefix synced with the checkpoint dir (resume after a spot reclaim)
    ML_KMS_KEY_ARN        KMS key for everything uploaded (optional)
    ML_HYPERPARAMETERS    JSON object of hyperparameters (strings)
    ML_TRAINER_PYTHON     interpreter for the trainer (default: this one)
    ML_PROCESSES_PER_NODE trainer processes per node (default: SageMaker's GPU count, or 1);
                          more than one process in the job starts torchrun (distributed.py)

Standard library + boto3 only (both are in the PyTorch DLC images).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from typing import Dict, List, Optional, Tuple

from . import distributed

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_SCRIPT = os.path.join(os.path.dirname(HERE), "train.py")
CHECKPOINT_SYNC_SECONDS = 15.0


def split_s3_uri(uri: str) -> Tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _client():
    import boto3  # only needed on Batch

    # Older boto3 releases ignore AWS_ENDPOINT_URL; pass it explicitly (emulators, tests).
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def download_prefix(s3, uri: str, target: str) -> List[str]:
    bucket, prefix = split_s3_uri(uri)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            path = os.path.join(target, *relative.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, obj["Key"], path)
            written.append(relative)
    return written


def upload_file(s3, path: str, uri: str, kms_key: Optional[str]) -> None:
    bucket, key = split_s3_uri(uri)
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    s3.upload_file(path, bucket, key, ExtraArgs=extra)


def _join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


class CheckpointSync:
    """Uploads checkpoint files whenever they change, so a retried attempt resumes."""

    def __init__(self, s3, local_dir: str, uri: str, kms_key: Optional[str]) -> None:
        self.s3, self.local_dir, self.uri, self.kms_key = s3, local_dir, uri, kms_key
        self.seen: Dict[str, float] = {}
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def sync(self) -> None:
        with self.lock:
            if not os.path.isdir(self.local_dir):
                return
            for name in sorted(os.listdir(self.local_dir)):
                path = os.path.join(self.local_dir, name)
                if name.endswith(".tmp") or not os.path.isfile(path):
                    continue
                mtime = os.path.getmtime(path)
                if self.seen.get(name) != mtime:
                    upload_file(self.s3, path, _join(self.uri, name), self.kms_key)
                    self.seen[name] = mtime

    def _loop(self) -> None:
        while not self.stop_event.wait(CHECKPOINT_SYNC_SECONDS):
            try:
                self.sync()
            except Exception as err:  # noqa: BLE001 - a failed sync must not kill training
                print(f"checkpoint sync failed: {err}", flush=True)

    def __enter__(self) -> "CheckpointSync":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join()
        self.sync()


def run_batch(env: Dict[str, str], argv: List[str]) -> int:
    s3 = _client()
    root = env.get("ML_ROOT", "/opt/ml")
    kms_key = env.get("ML_KMS_KEY_ARN") or None
    output_uri = env["ML_OUTPUT_S3_URI"]
    checkpoint_uri = env.get("ML_CHECKPOINT_S3_URI")
    checkpoint_dir = env.get("ML_CHECKPOINT_DIR", os.path.join(root, "checkpoints"))

    files = download_prefix(s3, env["ML_INPUT_S3_URI"], os.path.join(root, "input", "data"))
    print(f"downloaded {len(files)} input files from {env['ML_INPUT_S3_URI']}", flush=True)
    os.makedirs(os.path.join(root, "input", "config"), exist_ok=True)
    with open(os.path.join(root, "input", "config", "hyperparameters.json"), "w", encoding="utf-8") as f:
        f.write(env.get("ML_HYPERPARAMETERS") or "{}")
    if checkpoint_uri:
        restored = download_prefix(s3, checkpoint_uri, checkpoint_dir)
        if restored:
            print(f"restored checkpoints {restored} from {checkpoint_uri}", flush=True)

    # A multi-node parallel job runs this on every node: each starts its trainer processes
    # (torchrun), and the main node (torchrun's node 0, where rank 0 runs) alone syncs
    # checkpoints and uploads the bundle or the failure reason.
    topo = distributed.node_topology(env)
    python = env.get("ML_TRAINER_PYTHON", sys.executable)
    child_env = {**env, "ML_ROOT": root, "ML_CHECKPOINT_DIR": checkpoint_dir, "PYTHONUNBUFFERED": "1"}
    command = distributed.launch_command(python, TRAIN_SCRIPT, argv, topo, env)
    child = subprocess.Popen(command, env=distributed.launch_env(child_env, topo))
    # Batch sends SIGTERM on terminate and on spot reclaim: pass it on, then sync what exists.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    if checkpoint_uri and topo.node_rank == 0:
        with CheckpointSync(s3, checkpoint_dir, checkpoint_uri, kms_key):
            code = child.wait()
    else:
        code = child.wait()

    if topo.node_rank != 0:
        return code
    if code != 0:
        failure = os.path.join(root, "output", "failure")
        if os.path.isfile(failure):
            upload_file(s3, failure, _join(output_uri, "failure"), kms_key)
        return code
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "model.tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            model_dir = os.path.join(root, "model")
            for name in sorted(os.listdir(model_dir)):
                tar.add(os.path.join(model_dir, name), arcname=name)
        upload_file(s3, archive, _join(output_uri, "model.tar.gz"), kms_key)
    evaluation = os.path.join(root, "output", "data", "evaluation.json")
    if os.path.isfile(evaluation):
        upload_file(s3, evaluation, _join(output_uri, "evaluation.json"), kms_key)
    print(f"uploaded model.tar.gz to {output_uri}", flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    if not env.get("ML_INPUT_S3_URI"):  # SageMaker (or a plain container): data is staged
        python = env.get("ML_TRAINER_PYTHON", sys.executable)
        topo = distributed.node_topology(env)
        command = distributed.launch_command(python, TRAIN_SCRIPT, argv, topo, env)
        os.execve(python, command, distributed.launch_env(env, topo))
    try:
        return run_batch(env, argv)
    except Exception as err:  # noqa: BLE001 - leave a reason where the launcher looks for it
        message = f"batch entry point failed: {type(err).__name__}: {err}"
        print(message, file=sys.stderr, flush=True)
        try:
            failure = os.path.join(tempfile.mkdtemp(), "failure")
            with open(failure, "w", encoding="utf-8") as f:
                f.write(message + "\n")
            upload_file(_client(), failure, _join(env["ML_OUTPUT_S3_URI"], "failure"), env.get("ML_KMS_KEY_ARN"))
        except Exception:  # noqa: BLE001
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
