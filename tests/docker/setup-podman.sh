#!/usr/bin/env bash
# Prepares this machine to build and run docker/Dockerfile with podman (see `make docker-deps`):
#  1. installs podman, runc (crun refuses hybrid cgroups), debootstrap, podman-compose;
#  2. writes /etc/containers/containers.conf only if absent (runc, cgroupfs, file events, and
#     ulimits no higher than this machine's hard limits);
#  3. makes the debian:bookworm-slim base image with debootstrap if podman does not have it
#     (no registry is reachable here).
# Idempotent: every step is skipped when already done.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

# dnsname: service names resolve on compose networks (podman 4.3 uses CNI; it is only a
# Recommends of podman, so --no-install-recommends would leave it out). uidmap, slirp4netns and
# fuse-overlayfs are for rootless podman, when this runs as a user other than root.
pkgs="podman runc debootstrap podman-compose golang-github-containernetworking-plugin-dnsname
  uidmap slirp4netns fuse-overlayfs"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  echo "docker-deps: installing:" $missing
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

conf=/etc/containers/containers.conf
if [ ! -e "$conf" ]; then
  n=$(ulimit -Hn)
  echo "docker-deps: writing $conf (nofile=$n)"
  $SUDO mkdir -p /etc/containers
  printf '%s\n' '[containers]' \
    "default_ulimits = [\"nofile=$n:$n\", \"nproc=32768:32768\"]" \
    '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' \
    | $SUDO tee "$conf" >/dev/null
fi

base=docker.io/library/debian:bookworm-slim
# The image goes into the storage of the user running this (root's, or a rootless user's), which
# is the one run.sh's podman uses; only debootstrap needs root.
if ! podman image exists "$base"; then
  src=/etc/apt/sources.list.d/debian.sources
  mirror=$(awk '/^URIs:/ {print $2; exit}' "$src" 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d /tmp/smtpmock-rootfs.XXXXXX)
  trap '$SUDO rm -rf "$rootfs" "$rootfs.log"' EXIT
  echo "docker-deps: debootstrap bookworm from $mirror (takes a minute or two)"
  start=$(date +%s)
  $SUDO debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -30 "$rootfs.log"; exit 1; }
  if [ -f "$src" ]; then
    $SUDO rm -f "$rootfs/etc/apt/sources.list"
    $SUDO cp "$src" "$rootfs/etc/apt/sources.list.d/"
  fi
  # The slim image has no apt caches, docs or man pages.
  $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  $SUDO tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' - "$base" >/dev/null
  echo "docker-deps: $base made in $(( $(date +%s) - start )) s"
fi
