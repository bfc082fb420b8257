#!/usr/bin/env bash
# `npm test`'s pretest: the non-npm things the suites need, checked in well under a second.
#   - the reference trainer's tests and the train -> serve tests run $TRAINER_PYTHON
#     (default Debian's /usr/bin/python3) with PyTorch, ONNX and numpy: Debian's python3-torch,
#     python3-onnx, python3-numpy;
#   - the launcher and service tests start the AWS API emulator with $MOTO_PYTHON (default
#     python3 on PATH): moto[server] from requirements-test.txt.
# As root it installs what is missing (apt-get, pip), as .ci/run did; otherwise it prints the
# one command that does it and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

TRAINER_PYTHON=${TRAINER_PYTHON:-/usr/bin/python3}
MOTO_PYTHON=${MOTO_PYTHON:-python3}
APT_PACKAGES=(python3-torch python3-onnx python3-numpy)

# Finds the modules without importing them (importing torch alone takes seconds).
has_modules() {
  "$1" -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in sys.argv[1:]))' \
    "${@:2}" >/dev/null 2>&1
}
trainer_ready() { has_modules "$TRAINER_PYTHON" torch onnx numpy; }
# moto's server extra: flask and flask_cors.
moto_ready() { has_modules "$MOTO_PYTHON" moto boto3 flask flask_cors; }

trainer_ready && moto_ready && exit 0

apt_install="apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}"
pip_install="$MOTO_PYTHON -m pip install -r requirements-test.txt"
steps=()
trainer_ready || steps+=("$apt_install")
moto_ready || steps+=("$pip_install")

if [ "$(id -u)" != 0 ]; then
  sudo=; command -v sudo >/dev/null && sudo='sudo '
  trainer_ready || steps[0]="${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}"
  command=${steps[0]}
  [ ${#steps[@]} -gt 1 ] && command="$command && ${steps[1]}"
  echo "npm test needs Python packages that are missing here. Run this, then npm test again:" >&2
  echo "  $command" >&2
  exit 1
fi

if ! trainer_ready; then
  echo "pretest: installing Debian's ${APT_PACKAGES[*]} for $TRAINER_PYTHON" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi
if ! moto_ready; then
  echo "pretest: installing requirements-test.txt (moto server) into $MOTO_PYTHON" >&2
  "$MOTO_PYTHON" -m pip install -q --disable-pip-version-check -r requirements-test.txt
fi

trainer_ready || { echo "pretest: $TRAINER_PYTHON still has no torch, onnx or numpy" >&2; exit 1; }
moto_ready || { echo "pretest: $MOTO_PYTHON still has no moto[server]" >&2; exit 1; }
