#!/usr/bin/env python3
"""Classify one image with a .tflite model: the core of the Android demo.

Runs the same on a phone (Termux: see docs/android.md) and on any Linux/macOS machine:

    python android_demo/classify.py --model mobilenet.tflite --image cat.jpg \
        --labels labels.txt --top 5 --delegate auto

* The image is decoded (JPEG and everything else through Pillow when installed; PNG, PPM
  and PGM without it), resized to the model's input (bilinear), normalised as
  ``(pixel - mean) / std`` (``--mean 127.5 --std 127.5`` by default: MobileNet's [-1, 1];
  ``--mean 0 --std 255`` gives [0, 1]) and, for int8/uint8 inputs, quantized with the
  input's own scale and zero point.
* ``--delegate``: ``auto`` tries NNAPI, then the GPU, then uses the CPU, and says which
  it used and why the others were skipped; ``nnapi`` / ``gpu`` insist (exit status 2 with
  the reason when that delegate is unavailable); ``cpu`` uses edgelite's CPU kernels.
* Prints the top-K classes with scores (dequantized outputs) and the latency of the first
  and the median of ``--runs`` invokes; ``--json`` prints one JSON object instead.

Exit status: 0 success, 1 bad input (model, image, labels), 2 requested delegate unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import zlib

import numpy as np

# Run from a checkout without installing edgelite.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "edgelite")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import edgelite  # noqa: E402
from edgelite.errors import DelegateError, EdgeliteError  # noqa: E402

EXIT_BAD_INPUT, EXIT_NO_DELEGATE = 1, 2


class ImageError(Exception):
    """The image cannot be read or decoded."""


# ---- image decoding -------------------------------------------------------------------


def _png(data: bytes) -> np.ndarray:
    """8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA, palette) without Pillow."""
    pos, chunks, header, palette = 8, [], None, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ImageError("PNG without IHDR")
    w, h, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if depth != 8 or interlace or channels is None:
        raise ImageError("only 8-bit non-interlaced PNG can be read without Pillow (pkg install python-pillow)")
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8)
    stride = w * channels
    rows = raw.reshape(h, stride + 1)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):  # undo the per-row filters (PNG spec, section 9)
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) & 0xFF
        out[y] = prev = cur
    img = out.astype(np.uint8).reshape(h, w, channels)
    if color == 3:
        if palette is None:
            raise ImageError("palette PNG without PLTE")
        img = palette[img[..., 0]]
    return img


def _pnm(data: bytes) -> np.ndarray:
    """Binary PPM (P6) / PGM (P5) with maxval 255."""
    fields, pos = [], 2
    while len(fields) < 3:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    w, h, maxval = fields
    if maxval != 255:
        raise ImageError("only 8-bit PPM/PGM")
    channels = 3 if data[:2] == b"P6" else 1
    return np.frombuffer(data, np.uint8, count=w * h * channels, offset=pos + 1).reshape(h, w, channels)


def load_image(path: str) -> np.ndarray:
    """HxWx3 uint8 RGB."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"cannot read image {path}: {e.strerror}") from None
    try:
        from PIL import Image  # optional: JPEG, WebP, ...

        import io

        try:
            return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad files
            raise ImageError(f"cannot decode image {path}: {e}") from None
    except ImportError:
        pass
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        img = _png(data)
    elif data[:2] in (b"P5", b"P6"):
        img = _pnm(data)
    else:
        raise ImageError(f"{path}: only PNG/PPM/PGM can be decoded without Pillow (pkg install python-pillow)")
    if img.shape[2] in (1, 2):
        img = np.repeat(img[..., :1], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def resize_bilinear(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Half-pixel-centre bilinear resize of an HxWxC image to h x w (float32)."""
    src = img.astype(np.float32)

    def axis(n_out, n_in):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = axis(h, src.shape[0])
    x0, x1, fx = axis(w, src.shape[1])
    top = src[y0][:, x0] * (1 - fx)[None, :, None] + src[y0][:, x1] * fx[None, :, None]
    bot = src[y1][:, x0] * (1 - fx)[None, :, None] + src[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def preprocess(img: np.ndarray, detail: dict, mean: float, std: float) -> np.ndarray:
    """The model's input tensor for ``img``: size, channels, dtype and quantization from ``detail``."""
    shape = [int(d) for d in detail["shape"]]
    if len(shape) != 4 or shape[3] not in (1, 3):
        raise ValueError(f"the model's input has shape {shape}; an image model takes [1, height, width, 1 or 3]")
    x = resize_bilinear(img, shape[1], shape[2])
    if shape[3] == 1:
        x = x.mean(axis=2, keepdims=True)
    x = (x - mean) / std
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return x[None].astype(np.float32)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ValueError(f"the model's {dtype} input has no quantization parameters")
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max)[None].astype(dtype)


# ---- delegates -----------------------------------------------------------------------


def open_interpreter(model: str, choice: str, threads: int | None, notes: list[str]):
    """(allocated interpreter, delegate used). ``auto`` moves on when a delegate cannot be
    created or cannot prepare this model; ``nnapi``/``gpu`` raise DelegateError instead."""
    order = {"auto": ["nnapi", "gpu", "cpu"], "nnapi": ["nnapi"], "gpu": ["gpu"], "cpu": ["cpu"]}[choice]
    for name in order:
        try:
            delegates = [edgelite.load_delegate(name)] if name != "cpu" else None
            it = edgelite.Interpreter(model_path=model, num_threads=threads, experimental_delegates=delegates)
            it.allocate_tensors()
        except DelegateError as e:
            if choice != "auto":
                raise
            notes.append(f"{name}: {e}")
            continue
        if delegates:
            plan = it.get_delegation_plan()
            if plan is not None and not plan.partitions:
                notes.append(f"{name}: no operator of this model runs on it; everything runs on the CPU")
                name = "cpu"
        return it, name
    raise AssertionError("unreachable: the CPU needs no delegate")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help=".tflite image classifier")
    ap.add_argument("--image", required=True, help="JPEG/PNG/... (PNG, PPM, PGM without Pillow)")
    ap.add_argument("--labels", help="text file, one label per line, in output order")
    ap.add_argument("--top", type=int, default=5, help="how many classes to print (default 5)")
    ap.add_argument("--delegate", choices=["auto", "nnapi", "gpu", "cpu"], default="auto")
    ap.add_argument("--mean", type=float, default=127.5, help="input normalisation: (pixel - mean) / std")
    ap.add_argument("--std", type=float, default=127.5)
    ap.add_argument("--runs", type=int, default=1, help="invokes to time (default 1)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    notes: list[str] = []
    try:
        labels = None
        if args.labels:
            with open(args.labels, encoding="utf-8") as f:
                labels = [line.rstrip("\n") for line in f]
        img = load_image(args.image)
        t0 = time.perf_counter()
        try:
            it, used = open_interpreter(args.model, args.delegate, args.threads, notes)
        except DelegateError as e:
            print(f"classify: --delegate {args.delegate}: {e}", file=sys.stderr)
            return EXIT_NO_DELEGATE
        load_ms = 1000 * (time.perf_counter() - t0)
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], preprocess(img, inp, args.mean, args.std))
        times = []
        for _ in range(max(args.runs, 1)):
            t0 = time.perf_counter()
            it.invoke()
            times.append(1000 * (time.perf_counter() - t0))
        out = it.get_output_details()[0]
        scores = it.get_tensor(out["index"]).reshape(-1).astype(np.float64)
        scale, zero_point = out["quantization"]
        if np.dtype(out["dtype"]) != np.float32 and scale:
            scores = (scores - zero_point) * scale
    except (OSError, ImageError, ValueError, EdgeliteError) as e:
        print(f"classify: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    order = np.argsort(-scores, kind="stable")[: max(args.top, 1)]
    top = [
        {"index": int(i), "label": labels[i] if labels and i < len(labels) else str(int(i)), "score": float(scores[i])}
        for i in order
    ]
    result = {
        "model": os.path.basename(args.model),
        "delegate": used,
        "delegate_notes": notes,
        "load_ms": round(load_ms, 2),
        "first_invoke_ms": round(times[0], 3),
        "median_invoke_ms": round(float(np.median(times)), 3),
        "top": top,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    for n in notes:
        print(f"note: {n}")
    print(f"delegate: {used}")
    for t in top:
        print(f"{t['score']:8.4f}  {t['label']}")
    print(f"latency: first invoke {times[0]:.1f} ms, median of {len(times)} {np.median(times):.1f} ms (load {load_ms:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
