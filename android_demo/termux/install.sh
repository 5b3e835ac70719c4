#!/data/data/com.termux/files/usr/bin/bash
# Installs edgelite and the demo's dependencies inside Termux (Android), from a checkout of
# this repository on the phone:   bash android_demo/termux/install.sh [--with-numba]
#   python, numpy, Pillow: Termux packages (PyPI has no Android wheels of numpy)
#   flatbuffers, edgelite: pip (edgelite from this checkout, without build isolation so
#                          that pip does not try to build numpy)
#   numba: optional (--with-numba); edgelite runs its numpy reference kernels without it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
if ! command -v pkg >/dev/null; then
  echo "install.sh: this script is for Termux (no 'pkg' command here)" >&2
  exit 1
fi
pkg install -y python python-numpy python-pillow
python -m pip install --upgrade setuptools flatbuffers
python -m pip install --no-build-isolation --no-deps "$SRC"
if [ "${1:-}" = "--with-numba" ]; then
  python -m pip install numba || echo "numba did not install: edgelite will use its numpy kernels"
fi
mkdir -p "$HOME/edgelite-demo"
python - <<'PY'
import edgelite
print("edgelite", edgelite.__version__, "installed")
try:
    print("NNAPI devices:", [d.name for d in edgelite.delegates.nnapi.devices()])
except edgelite.errors.DelegateError as e:
    print(e)
PY
echo "Put a model, an image and labels in ~/edgelite-demo (model.tflite, image.jpg, labels.txt),"
echo "then run: bash $HERE/run.sh"
