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
cat > "$W/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$W/storage"
runroot = "$W/run"
CONF
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat > "$W/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$W/tmp"
runtime = "runc"
CONF
export CONTAINERS_STORAGE_CONF=$W/storage.conf CONTAINERS_CONF=$W/containers.conf

t "Debian base from the Debian archive"
if ! podman image exists localhost/debian-minbase:bookworm; then
  rm -rf "$W/rootfs"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  debootstrap --variant=minbase bookworm "$W/rootfs" "$mirror" >"$W/debootstrap.log"
  rm -rf "$W"/rootfs/var/cache/apt/archives/*.deb "$W"/rootfs/var/lib/apt/lists/*
  tar --numeric-owner -C "$W/rootfs" -c . | podman import --change 'CMD ["bash"]' - localhost/debian-minbase:bookworm
  rm -rf "$W/rootfs"
fi

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
