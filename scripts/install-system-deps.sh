#!/usr/bin/env bash
# Installs what Debian must provide for timefs and its tests. Idempotent; needs root (or sudo).
#   fuse, libfuse2  — the FUSE mount (fuse-native's prebuild links libfuse.so.2; fusermount)
#   gcc, make, autoconf, automake, libtool, perl — build and run pjdfstest / fsx from ../shared/suites
#   litmus          — WebDAV compliance suite
#   rclone, cadaver, davfs2 — real WebDAV clients the tests drive
#   bindfs          — a passthrough FUSE filesystem: bench/fuse.ts separates FUSE overhead from timefs overhead
#   chromium        — the real browser that drives the deployed example app (through playwright-core)
set -euo pipefail

PKGS=(fuse libfuse2 attr gcc libc6-dev make autoconf automake libtool perl litmus rclone cadaver davfs2 bindfs chromium)

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-deps: run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all present (${PKGS[*]})"
else
  echo "install-system-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# FUSE needs the device node; say so early rather than failing inside a test
if [ ! -e /dev/fuse ]; then
  echo "install-system-deps: WARNING: /dev/fuse is missing; FUSE mounts will not work on this machine" >&2
fi
