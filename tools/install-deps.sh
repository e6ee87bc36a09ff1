#!/usr/bin/env bash
# install-deps.sh: installs what simclr needs to build, test and benchmark on Debian 12, from Debian's packages
# only, and nothing that is already there. Safe to run again. Run as root (or with sudo available).
#   tools/install-deps.sh          build, test and benchmark dependencies, the demo dataset
#   tools/install-deps.sh --cross  also the aarch64 cross toolchain, qemu and an arm64 SLEEF (for NEON tests)
set -euo pipefail

cross=0
for arg in "$@"; do
  case "$arg" in
    --cross) cross=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# (libopenblas0-openmp: the OpenBLAS that the benchmark pairs with the engine on several threads, bench/main.cc)
packages=(build-essential cmake pkg-config clang libomp-14-dev
          libsleef-dev libturbojpeg0-dev libpng-dev zlib1g-dev libjansson-dev
          libcriterion-dev libbenchmark-dev libopenblas-dev libopenblas0-openmp libdnnl-dev ocl-icd-opencl-dev
          libopenmpi-dev openmpi-bin dataset-fashion-mnist)
if [ "$cross" = 1 ]; then
  packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# arm64 SLEEF for the NEON kernels: unpacked into a private sysroot, because installing libsleef-dev:arm64 beside
# the amd64 packages would make apt remove some of them. The foreign architecture is added only for the download.
SYSROOT=/opt/simclr/aarch64-sysroot
if [ "$cross" = 1 ] && [ ! -f "$SYSROOT/usr/include/aarch64-linux-gnu/sleef.h" ]; then
  echo "install-deps: unpacking arm64 SLEEF into $SYSROOT"
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt downloads as the _apt user
  trap 'rm -rf "$tmp"' EXIT
  had_arm64=0
  dpkg --print-foreign-architectures | grep -qx arm64 && had_arm64=1
  [ "$had_arm64" = 1 ] || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  (cd "$tmp" && apt-get download -qq libsleef3:arm64 libsleef-dev:arm64)
  if [ "$had_arm64" = 0 ]; then
    $SUDO dpkg --remove-architecture arm64
    $SUDO apt-get update -qq
  fi
  $SUDO mkdir -p "$SYSROOT.tmp"
  for deb in "$tmp"/*.deb; do $SUDO dpkg-deb -x "$deb" "$SYSROOT.tmp"; done
  $SUDO rm -rf "$SYSROOT"
  $SUDO mv "$SYSROOT.tmp" "$SYSROOT"
fi
echo "install-deps: ready"
