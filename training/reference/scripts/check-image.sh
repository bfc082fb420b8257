#!/usr/bin/env bash
# Builds the trainer image from ../Dockerfile with podman, on a Debian base that has
# python3-torch instead of a SageMaker DLC (no registry needed), and runs it the way
# SageMaker does: `<image> train` with /opt/ml mounted. Passes when the container leaves a
# model bundle in the mounted model folder. Optional CI step (downloads ~0.5 GB of .debs).
#
#   W=/tmp/trainer-image training/reference/scripts/check-image.sh
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-$(mktemp -d)}
IMAGE=${IMAGE:-localhost/ml-trainer:ci}
mkdir -p "$W"
t() { echo "[$(date +%T)] $*"; }

t "podman configuration private to $W"
# shellcheck source=../../../scripts/podman-sandbox.sh
source "$HERE/../../scripts/podman-sandbox.sh"
podman_sandbox "$W"

t "Debian base from the Debian archive"
debian_base_image "$W"

t "PyTorch base (stands in for the SageMaker PyTorch DLC)"
if ! podman image exists localhost/torch-base:bookworm; then
  mkdir -p "$W/torch-base"
  cat > "$W/torch-base/Containerfile" <<'CF'
FROM localhost/debian-minbase:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-torch python3-numpy python3-boto3 >/dev/null \
 && rm -rf /var/lib/apt/lists/*
CF
  podman build --pull=never --format docker -t localhost/torch-base:bookworm "$W/torch-base"
fi

t "trainer image from training/reference/Dockerfile"
podman build --pull=never --format docker --build-arg BASE_IMAGE=localhost/torch-base:bookworm -t "$IMAGE" "$HERE"

t "run it as SageMaker does: <image> train, /opt/ml mounted"
tree=$(mktemp -d "$W/opt-ml-XXXX")
mkdir -p "$tree/input/data/train" "$tree/input/config" "$tree/model" "$tree/output" "$tree/checkpoints"
(cd "$HERE" && python3 -m ml_trainer.sample_data --out "$tree/input/data/train" --rows 2000)
echo '{"epochs": "5"}' > "$tree/input/config/hyperparameters.json"
podman run --rm --network none -v "$tree:/opt/ml" "$IMAGE" train
for f in model.onnx manifest.json golden.json model_card.md; do
  [ -s "$tree/model/$f" ] || { echo "missing $f in the model folder"; exit 1; }
done
t "ok: the container wrote a model bundle to $tree/model"
