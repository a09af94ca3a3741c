#!/usr/bin/env bash
# Build an offline base image for nbrepro's docker backend, for machines that cannot
# reach an image registry (like CI here): a minimal Debian with python3 made with
# debootstrap from the Debian mirror apt already uses, then `docker import`ed.
#   usage: scripts/base-image.sh [IMAGE]   (default: nbrepro-test-base:bookworm)
# Skips the build when IMAGE exists. Real users do not need this: the docker backend
# pulls python:X.Y-slim.
set -euo pipefail

image="${1:-${NBREPRO_TEST_BASE_IMAGE:-nbrepro-test-base:bookworm}}"
suite="${NBREPRO_BASE_SUITE:-bookworm}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image exists"
  exit 0
fi

SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
if ! command -v debootstrap >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    debootstrap >/dev/null
fi

# The mirror apt is configured with (deb822 .sources or one-line .list), first Debian one.
mirror="${NBREPRO_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror=$(grep -hoE '^URIs:[[:space:]]*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
             | awk '{print $2}' | grep -v -- '-security' | grep -m1 debian || true)
fi
if [[ -z "$mirror" ]]; then
  mirror=$(grep -hoE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?\S+' \
             /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
             | awk '{print $NF}' | grep -v -- '-security' | grep -m1 debian || true)
fi
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs=$(mktemp -d /var/tmp/nbrepro-rootfs.XXXXXX)
trap '$SUDO rm -rf "$rootfs" "$rootfs.log"' EXIT
echo "base-image: debootstrap $suite from $mirror (about a minute)"
$SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  echo "base-image: debootstrap failed; last lines:" >&2; tail -n 20 "$rootfs.log" >&2; exit 1; }
# Smaller and reproducible: no package lists or caches in the image.
$SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
$SUDO tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
echo "base-image: built $image ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
