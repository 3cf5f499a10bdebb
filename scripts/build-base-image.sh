#!/usr/bin/env bash
# Builds the worker image's base (debian:bookworm-slim by default) without a registry:
# debootstrap a minimal Debian bookworm into a folder, then `docker import` it under the tag
# Dockerfile.worker expects. For air-gapped machines and CI, where no image can be pulled.
#
#   scripts/build-base-image.sh [tag]        (default tag: debian:bookworm-slim)
#
# Needs root, debootstrap and a reachable Debian mirror (MIRROR, default http://deb.debian.org/debian).
set -euo pipefail
tag="${1:-debian:bookworm-slim}"
mirror="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/orchestra-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm into $rootfs (from $mirror)"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
# Keep apt working inside builds and drop what a container never needs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
echo "docker import -> $tag"
tar -C "$rootfs" -c . | docker import - "$tag" >/dev/null
docker image inspect "$tag" --format '{{.Id}} {{.Size}}'
