# Sourced by the image checks (serving/scripts/image-test.sh,
# training/reference/scripts/check-image.sh): podman without a Docker engine or a registry,
# configured for this kind of sandbox (see shared/CONTAINERS.md), with all state under one
# folder, and a Debian base image built from the Debian archive.

# podman_sandbox DIR: private storage and engine settings under DIR, exported for podman.
podman_sandbox() {
  local w=$1 nofile nproc
  mkdir -p "$w/tmp"
  cat > "$w/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$w/storage"
runroot = "$w/run"
CONF
  # No CAP_SYS_RESOURCE: podman's default rlimits cannot be set, and it caps nproc at 32768.
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  cat > "$w/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$w/tmp"
# crun refuses the hybrid cgroup v1/v2 layout of these machines.
runtime = "runc"
CONF
  export CONTAINERS_STORAGE_CONF=$w/storage.conf CONTAINERS_CONF=$w/containers.conf
}

# debian_base_image DIR: localhost/debian-minbase:bookworm from the mirror apt already uses
# (once; podman keeps it in DIR's storage).
debian_base_image() {
  local w=$1 mirror
  podman image exists localhost/debian-minbase:bookworm && return 0
  rm -rf "$w/rootfs"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  debootstrap --variant=minbase bookworm "$w/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$w/debootstrap.log"
  rm -rf "$w"/rootfs/var/cache/apt/archives/*.deb "$w"/rootfs/var/lib/apt/lists/* "$w"/rootfs/var/log/apt/* "$w"/rootfs/var/log/*.log
  tar --numeric-owner -C "$w/rootfs" -c . | podman import --change 'CMD ["bash"]' - localhost/debian-minbase:bookworm
  rm -rf "$w/rootfs"
}
