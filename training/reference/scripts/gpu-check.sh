#!/usr/bin/env bash
# The device check for a machine with CUDA GPUs: the NCCL path end to end, then the GPU
# benchmark (trainer loop vs raw loop at batch 8192; 1 vs N GPUs when there are several).
# Bounded: every step has a timeout. Prints what training/README.md's GPU figures need.
#
#   training/reference/scripts/gpu-check.sh        (TRAINER_PYTHON picks the python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${TRAINER_PYTHON:-python3}
GPUS=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
if [ "$GPUS" -lt 1 ]; then
  echo "no CUDA GPU visible to $PY" >&2
  exit 1
fi
nvidia-smi -L || true
date -u +%Y-%m-%d

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
"$PY" - "$ROOT" <<'PY'
import os, sys
from tests.ddp_helpers import make_shard_root
import shutil
src = make_shard_root(rows=60000, files=8, seed=7)
shutil.copytree(os.path.join(src, "input"), os.path.join(sys.argv[1], "input"))
PY

echo "== $GPUS process(es), one per GPU, through entry.py and torchrun"
ML_ROOT=$ROOT ML_PROCESSES_PER_NODE=$GPUS timeout 600 "$PY" entry.py train --epochs 5 --batch-size 8192 \
  | grep -E "^(train channel|split|best epoch|test_accuracy|bundle written)"

echo "== benchmark"
timeout 900 "$PY" bench.py --rows 300000 --epochs 3 --repeats 3 --batch-size 8192 --processes "$GPUS" --scaling-repeats 2
