#!/usr/bin/env bash
# install-deps.sh - installs every build, test and run dependency of rove with
# apt-get on Debian 12 (run as root). Idempotent: quiet when all is present.
#   deploy/install-deps.sh           build + test + demo dependencies
#   deploy/install-deps.sh --agent   only what rove-agent needs on a board
set -euo pipefail

core=(build-essential cmake pkg-config git
  libopenblas-dev zlib1g-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler
  libonnx-dev libinih-dev libuv1-dev libpng-dev libjpeg62-turbo-dev)
full=(libopenmpi-dev openmpi-bin libcriterion-dev clang-format slurm-wlm munge
  dataset-fashion-mnist chromium clang libclang-rt-14-dev)

want=("${core[@]}")
if [ "${1:-}" != "--agent" ]; then
  want+=("${full[@]}")
  # The aarch64 cross-build of rove-agent and its qemu test need arm64
  # multiarch libraries, which dpkg only knows once the architecture is
  # added (idempotent; the apt-get update below then fetches its lists).
  want+=(gcc-aarch64-linux-gnu qemu-user libc6-dev:arm64 libopenblas-dev:arm64
    zlib1g-dev:arm64 libsodium-dev:arm64 libprotobuf-c-dev:arm64
    libinih-dev:arm64 libuv1-dev:arm64 libpng-dev:arm64 libjpeg62-turbo-dev:arm64)
  if [ "$(id -u)" -eq 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages: ${missing[*]}" >&2
  echo "install-deps.sh: run as root (or with sudo) to install them" >&2
  exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
