#!/data/data/com.termux/files/usr/bin/bash
# Classifies ~/edgelite-demo/image.jpg with ~/edgelite-demo/model.tflite (override with
# MODEL, IMAGE, LABELS, DELEGATE); extra arguments go to classify.py (e.g. --json --top 3).
# The launcher app runs this script through Termux's RUN_COMMAND intent.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
DEMO="${EDGELITE_DEMO_DIR:-$HOME/edgelite-demo}"
MODEL="${MODEL:-$DEMO/model.tflite}"
IMAGE="${IMAGE:-$DEMO/image.jpg}"
LABELS="${LABELS:-$DEMO/labels.txt}"
set -- --model "$MODEL" --image "$IMAGE" --delegate "${DELEGATE:-auto}" "$@"
if [ -f "$LABELS" ]; then
  set -- "$@" --labels "$LABELS"
fi
exec python "$HERE/../classify.py" "$@"
