#!/usr/bin/env bash
# Run a chosen part of edgelite's test suite on arm64 under emulation (qemu-user + binfmt_misc)
# in a Debian bookworm arm64 root, as on Raspberry Pi OS (Python 3.11, apt python3-numpy 1.24).
#
#   sudo tests/arm64/run.sh [pi4|pi5] [pytest args...]
#   sudo tests/arm64/run.sh [pi4|pi5] --bench     # benchmarks/bench_arm_gemm.py instead of the tests
#   sudo tests/arm64/run.sh [pi4|pi5] --py SCRIPT [args...]   # any Python script of the tree, e.g.
#                                                  # tests/arm64/probe_rounding.py
#
#   pi5 (default): QEMU_CPU=cortex-a76 (ARMv8.2 with dot product, like the Raspberry Pi 5)
#   pi4:           QEMU_CPU=cortex-a72 (ARMv8.0, no dot product, like the Raspberry Pi 4)
#
# The root is built once (debootstrap, ~5-10 min) and cached outside the git tree in
# $EDGELITE_ARM64_ROOT (default: ${XDG_CACHE_HOME:-$HOME/.cache}/edgelite/arm64-bookworm).
# pytest args replace the default subset (tests/arm64/SUBSET). EDGELITE_ARM64_BUILD_ONLY=1 only
# builds the root. Needs root (debootstrap, chroot, mount) and network access to
# deb.debian.org and PyPI; installs debootstrap, qemu-user-static and binfmt-support via apt
# when they are missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BOARD=${1:-pi5}
[ $# -gt 0 ] && shift
case "$BOARD" in
  pi5) CORE=cortex-a76; GEMM=dotprod ;;
  pi4) CORE=cortex-a72; GEMM=neon ;;
  *) echo "usage: $0 [pi4|pi5] [pytest args...]" >&2; exit 2 ;;
esac
ROOT=${EDGELITE_ARM64_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/edgelite/arm64-bookworm}
MIRROR=${EDGELITE_ARM64_MIRROR:-http://deb.debian.org/debian}
VENV=/opt/edgelite-venv
# Bump when the recipe below changes, so a cached root is rebuilt.
RECIPE="1 numpy=apt flatbuffers numba ai-edge-litert pytest hypothesis"
# numpy stays the apt one (1.24.2, as on Raspberry Pi OS bookworm): a constraint file pins it, so
# pip picks releases that accept it (numba 0.68, ai-edge-litert 2.3 did in 2026).
PIP_PACKAGES="flatbuffers numba ai-edge-litert pytest hypothesis"

[ "$(id -u)" -eq 0 ] || { echo "run.sh needs root (debootstrap, chroot, mount)" >&2; exit 2; }
T0=$(date +%s)
log() { echo "== arm64[$BOARD/$CORE] $(( $(date +%s) - T0 ))s: $*"; }

# --- host tools and binfmt_misc ---------------------------------------------------------------
if ! command -v debootstrap >/dev/null || ! [ -x /usr/bin/qemu-aarch64-static ] \
   || ! command -v update-binfmts >/dev/null; then
  log "installing debootstrap qemu-user-static binfmt-support"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap qemu-user-static binfmt-support >/dev/null
fi
# Containers often start without binfmt_misc mounted; qemu-user-static only registers itself
# when it is.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] \
  || { echo "binfmt_misc has no qemu-aarch64 entry (update-binfmts --enable qemu-aarch64 failed)" >&2; exit 1; }

# --- mounts (undone on exit) ------------------------------------------------------------------
MOUNTS=()
cleanup() {
  local i
  for (( i=${#MOUNTS[@]}-1; i>=0; i-- )); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_in() {  # mount_in <mount args...> <target>
  mount "$@"
  MOUNTS+=("${!#}")
}
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 QEMU_CPU="$CORE" "$@"; }

write_cpuinfo() {  # an ARM /proc/cpuinfo for the emulated core (LiteRT/cpuinfo and LLVM read it)
  local part features
  if [ "$CORE" = cortex-a76 ]; then
    part=0xd0b
    features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
  else
    part=0xd08
    features="fp asimd evtstrm crc32 cpuid"
  fi
  local i
  for i in 0 1 2 3; do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: %s\nCPU revision\t: 1\n\n' \
      "$i" "$features" "$part"
  done > "$1"
}

setup_mounts() {
  mount_in -t proc proc "$ROOT/proc"
  write_cpuinfo "$ROOT/run/edgelite-cpuinfo"
  mount_in --bind "$ROOT/run/edgelite-cpuinfo" "$ROOT/proc/cpuinfo"
  mount_in --bind /dev "$ROOT/dev"
  mount_in -t sysfs sysfs "$ROOT/sys"  # LiteRT's cpuinfo reads /sys/devices/system/cpu/{possible,present}
  mount_in -t tmpfs tmpfs "$ROOT/dev/shm"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

# --- build the root (cached) ------------------------------------------------------------------
if [ "$(cat "$ROOT/.edgelite-recipe" 2>/dev/null)" != "$RECIPE" ]; then
  if [ ! -x "$ROOT/usr/bin/python3" ]; then
    log "debootstrap bookworm arm64 into $ROOT (first run only; minutes)"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    debootstrap --arch=arm64 --foreign --variant=minbase \
      --include=python3,python3-numpy,python3-venv,python3-pip,ca-certificates \
      bookworm "$ROOT" "$MIRROR" >/dev/null
    cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"
    chroot "$ROOT" /debootstrap/debootstrap --second-stage >/dev/null
  fi
  mkdir -p "$ROOT/run"
  setup_mounts
  # PyPI may be reached through a TLS-intercepting proxy: trust the host's extra CAs too.
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp /usr/local/share/ca-certificates/* "$ROOT/usr/local/share/ca-certificates/"
  fi
  in_root update-ca-certificates >/dev/null
  log "virtualenv + pip ($PIP_PACKAGES)"
  in_root python3 -m venv --system-site-packages "$VENV"
  echo "numpy==$(in_root python3 -c 'import numpy; print(numpy.__version__)')" > "$ROOT/opt/constraints.txt"
  in_root "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -c /opt/constraints.txt $PIP_PACKAGES
  echo "$RECIPE" > "$ROOT/.edgelite-recipe"
  cleanup; MOUNTS=()
fi
setup_mounts
log "root ready: $(in_root "$VENV/bin/python" -c 'import sys, numpy, numba; from importlib.metadata import version; print("Python", sys.version.split()[0], "numpy", numpy.__version__, "numba", numba.__version__, "ai-edge-litert", version("ai-edge-litert"))')"
cleanup; MOUNTS=()
[ "${EDGELITE_ARM64_BUILD_ONLY:-0}" = 1 ] && exit 0

# --- copy the tree in and run the tests -------------------------------------------------------
# A copy (tracked and untracked-but-not-ignored files, plus the gitignored fixture models) rather
# than a bind mount: nothing the emulated run writes lands in the worktree.
rm -rf "$ROOT/src"; mkdir -p "$ROOT/src"
( cd "$REPO" && { git ls-files -co --exclude-standard; ls tests/fixtures/*.tflite tests/fixtures/mediapipe/* 2>/dev/null || true; } \
  | sort -u | while read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done | tar -c --null -T - ) \
  | tar -C "$ROOT/src" -x
setup_mounts
if [ $# -eq 0 ]; then
  # one pytest argument per line (so '-k' and its expression take two lines)
  mapfile -t ARGS < <(sed -e 's/^[[:space:]]*#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$HERE/SUBSET" | grep -v '^$')
  CMD=(python -m pytest -q -rfEs -p no:cacheprovider --durations=12 "${ARGS[@]}")
elif [ "$1" = --bench ]; then
  shift
  CMD=(python benchmarks/bench_arm_gemm.py "$@")
elif [ "$1" = --py ]; then
  shift
  CMD=(python "$@")
else
  CMD=(python -m pytest -q -rfEs -p no:cacheprovider "$@")
fi
log "${CMD[*]}"
T1=$(date +%s)
set +e
# NUMBA_CACHE_DIR inside the root: compiled kernels are kept between runs (one entry per
# emulated core). EDGELITE_EXPECT_INT8_GEMM: the flavour this core must choose (tested).
chroot "$ROOT" /usr/bin/env -i PATH=$VENV/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  QEMU_CPU="$CORE" NUMBA_CACHE_DIR=/var/cache/edgelite-numba PYTHONDONTWRITEBYTECODE=1 \
  EDGELITE_EXPECT_INT8_GEMM="$GEMM" \
  /bin/sh -c 'cd /src && exec "$@"' sh "${CMD[@]}"
rc=$?
set -e
log "exit $rc; run $(( $(date +%s) - T1 ))s, script $(( $(date +%s) - T0 ))s in all"
exit $rc
