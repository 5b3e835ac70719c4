"""Classify camera frames or images with a .tflite model on a Raspberry Pi (or any computer).

Frames come from the Pi camera (``picamera2``), else a USB camera through OpenCV, or
from image files / a folder (``--image``). Prints the top-K labels, the latency of each
frame and the frame rate; ``--json`` prints one JSON object per line instead, and
``--loop`` keeps going (as a service) until stopped. Works with Raspberry Pi OS's numpy
1.24 and without Numba (edgelite's numpy reference kernels then run: slower, same
results); the first lines say which kernels run. See docs/raspberry-pi.md.

    python examples/rpi_classify.py mobilenet_v2_int8.tflite --labels labels.txt            # camera
    python examples/rpi_classify.py model.tflite --image photos/ --top-k 3 --threads 4
    python examples/rpi_classify.py model.tflite --image cat.jpg --delegate gpu --json
    python examples/rpi_classify.py model.tflite --loop --interval 1 --json               # service

Images: ``.npy`` (HxWx3 uint8), binary PPM/PGM always; JPEG/PNG/... with Pillow
(``python3-pil``) or OpenCV (``python3-opencv``). Float inputs get
``(pixel - mean) / std`` (default 127.5/127.5: [-1, 1], MobileNet's convention; use
``--mean 0 --std 255`` for [0, 1]); int8/uint8 inputs get the same value quantized with
the input's scale and zero point.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

import edgelite
from edgelite.errors import EdgeliteError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".pnm", ".npy", ".tif", ".tiff"}


class AppError(Exception):
    """A problem the user can fix (bad file, missing camera, missing package); exit code 2."""


# -- images ----------------------------------------------------------------------------------


def _read_netpbm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval, with comments and whitespace between
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic not in (b"P5", b"P6") or maxval > 255:
        raise AppError(f"{path}: only binary 8-bit PGM (P5) / PPM (P6) are read without Pillow or OpenCV")
    ch = 3 if magic == b"P6" else 1
    px = np.frombuffer(data, np.uint8, w * h * ch, pos + 1).reshape(h, w, ch)
    return np.repeat(px, 3, axis=2) if ch == 1 else px


def read_image(path: Path) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from an image file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            img = np.load(path)
            if img.ndim == 2:
                img = np.repeat(img[:, :, None], 3, axis=2)
            if img.ndim != 3 or img.shape[2] != 3:
                raise AppError(f"{path}: expected an HxWx3 array, got shape {img.shape}")
            return np.clip(img, 0, 255).astype(np.uint8)
        if suffix in (".ppm", ".pgm", ".pnm"):
            return _read_netpbm(path)
        try:
            from PIL import Image
        except ImportError:
            Image = None
        if Image is not None:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        try:
            import cv2
        except ImportError:
            raise AppError(f"{path}: reading {suffix} needs Pillow (apt install python3-pil) or OpenCV") from None
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise AppError(f"{path}: OpenCV could not read it")
        return bgr[:, :, ::-1]
    except OSError as e:  # unreadable, truncated or not an image (Pillow raises OSError subclasses)
        raise AppError(f"{path}: {e}") from None
    except ValueError as e:  # malformed header numbers, short data
        raise AppError(f"{path}: not a valid image ({e})") from None


def resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of an ``(H, W, 3)`` uint8 image (Pillow or OpenCV when present)."""
    if img.shape[:2] == (h, w):
        return img
    try:
        from PIL import Image

        return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
    except ImportError:
        pass
    try:
        import cv2

        return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    except ImportError:
        pass
    return resize_numpy(img, h, w)


def resize_numpy(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize in numpy alone (no antialiasing), half-pixel centres as the libraries use."""
    ys = np.clip((np.arange(h) + 0.5) * img.shape[0] / h - 0.5, 0, img.shape[0] - 1)
    xs = np.clip((np.arange(w) + 0.5) * img.shape[1] / w - 0.5, 0, img.shape[1] - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, img.shape[0] - 1), np.minimum(x0 + 1, img.shape[1] - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    f = img.astype(np.float32)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bottom = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return np.clip(np.round(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


# -- frame sources ---------------------------------------------------------------------------


def image_frames(inputs: list[str], loop: bool):
    """``(name, rgb)`` for each image file (folders: their images, sorted); again and again with ``loop``."""
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise AppError(f"{p}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise AppError(f"{p}: no such file or folder")
    while True:
        for p in paths:
            yield str(p), read_image(p)
        if not loop:
            return


def camera_frames(size: tuple[int, int], index: int, backend: str):
    """``(name, rgb)`` frames from picamera2 (the Pi camera) or else OpenCV's VideoCapture."""
    if backend in ("auto", "picamera2"):
        try:
            from picamera2 import Picamera2
        except ImportError:
            if backend == "picamera2":
                raise AppError("picamera2 is not installed (apt install python3-picamera2)") from None
        else:
            yield from _picamera2_frames(Picamera2, size)
            return
    try:
        import cv2
    except ImportError:
        raise AppError("no camera library: install python3-picamera2 (Pi camera) or python3-opencv "
                       "(USB camera), or pass --image FILE|FOLDER") from None
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise AppError(f"OpenCV could not open camera {index}")
    try:
        n = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                raise AppError(f"camera {index} stopped delivering frames")
            n += 1
            yield f"camera{index}:{n}", bgr[:, :, ::-1]
    finally:
        cap.release()


def _picamera2_frames(Picamera2, size):
    cam = Picamera2()
    # The ISP scales to the model's size for free; "RGB888" arrays are B, G, R in memory.
    cam.configure(cam.create_preview_configuration(main={"size": (size[1], size[0]), "format": "RGB888"}))
    cam.start()
    try:
        n = 0
        while True:
            n += 1
            yield f"picamera2:{n}", cam.capture_array()[:, :, ::-1]
    finally:
        cam.stop()


# -- the model -------------------------------------------------------------------------------


def load_labels(path: str | None) -> dict[int, str]:
    """``index -> label`` from a text file: one label per line, or ``index label`` lines."""
    if not path:
        return {}
    try:
        lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as e:
        raise AppError(f"labels file {path}: {e}") from None
    lines = [ln for ln in lines if ln]
    pairs = [ln.split(maxsplit=1) for ln in lines]
    if pairs and all(len(p) == 2 and p[0].isdigit() for p in pairs):
        return {int(i): name for i, name in pairs}
    return dict(enumerate(lines))


class Classifier:
    """One image-classification model: image in, float scores out."""

    def __init__(self, model: str, threads: int, delegate: str | None, mean: float, std: float):
        delegates = [load_delegate(delegate)] if delegate else None
        try:
            self.interp = edgelite.Interpreter(model_path=model, num_threads=threads, experimental_delegates=delegates)
            self.interp.allocate_tensors()
        except (OSError, EdgeliteError) as e:
            raise AppError(f"{model}: {e}") from None
        inputs, outputs = self.interp.get_input_details(), self.interp.get_output_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] not in (1, 3):
            raise AppError(f"{model}: expected one image input (1, H, W, 1 or 3), got "
                           f"{[list(d['shape']) for d in inputs]}")
        self.inp, self.out = inputs[0], outputs[0]
        self.height, self.width, self.channels = (int(v) for v in self.inp["shape"][1:4])
        self.mean, self.std = mean, std

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        img = resize(rgb, self.height, self.width)
        if self.channels == 1:
            img = np.round(img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
        x = (img.astype(np.float32) - self.mean) / self.std
        dtype = self.inp["dtype"]
        if dtype != np.float32:
            scale, zp = self.inp["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale) + zp, info.min, info.max)
        return x.astype(dtype)[None]

    def run(self, x: np.ndarray) -> np.ndarray:
        self.interp.set_tensor(self.inp["index"], x)
        self.interp.invoke()
        y = self.interp.get_tensor(self.out["index"]).reshape(-1)
        scale, zp = self.out["quantization"]
        if self.out["dtype"] != np.float32 and scale:
            return (y.astype(np.float32) - zp) * scale
        return y.astype(np.float32)


def load_delegate(name: str):
    load = getattr(edgelite, "load_delegate", None)
    if load is None:
        raise AppError(f"--delegate {name}: this edgelite ({edgelite.__version__}) has no delegates "
                       "(edgelite.load_delegate is missing); run without --delegate (CPU kernels)")
    try:
        return load(name)
    except EdgeliteError as e:
        raise AppError(f"--delegate {name}: {e}") from None


def kernel_path(interp) -> str:
    """Which kernels run: Numba JIT (and its int8 GEMM flavour) or the numpy reference."""
    from edgelite.interpreter.compute import jit, simd_gemm

    if not interp.uses_jit:
        why = "Numba not installed" if not jit.HAVE_NUMBA else "JIT disabled"
        return f"numpy reference kernels ({why}; numpy {np.__version__})"
    gemm = simd_gemm.flavour() or "none, float path"
    return f"Numba JIT kernels (int8 GEMM: {gemm}; numpy {np.__version__})"


# -- main ------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help=".tflite image classifier")
    p.add_argument("--labels", help="labels file: one per line, or 'index label' lines")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--image", nargs="+", metavar="FILE|FOLDER", help="classify these instead of camera frames")
    p.add_argument("--camera", choices=["auto", "picamera2", "opencv"], default="auto")
    p.add_argument("--camera-index", type=int, default=0, help="OpenCV camera number (/dev/videoN)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--delegate", choices=["gpu"], help="run supported ops on the GPU (Vulkan through wgpu)")
    p.add_argument("--loop", action="store_true", help="run until stopped (images: cycle through them)")
    p.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: camera 100, images one pass)")
    p.add_argument("--interval", type=float, default=0.0, help="seconds to wait between frames")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (the first ones load and compile kernels)")
    p.add_argument("--mean", type=float, default=127.5)
    p.add_argument("--std", type=float, default=127.5)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    args = p.parse_args(argv)
    if args.top_k < 1 or args.threads < 1 or args.frames < 0 or args.interval < 0 or args.warmup < 0 or args.std == 0:
        p.error("--top-k and --threads must be >= 1; --frames, --interval, --warmup >= 0; --std != 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # systemd stops a service with SIGTERM
    emit = (lambda rec: print(json.dumps(rec), flush=True)) if args.json else None
    try:
        labels = load_labels(args.labels)
        clf = Classifier(args.model, args.threads, args.delegate, args.mean, args.std)
        if args.image:
            frames = image_frames(args.image, args.loop)
            limit = args.frames or None
        else:
            frames = camera_frames((clf.height, clf.width), args.camera_index, args.camera)
            limit = args.frames or (None if args.loop else 100)

        t0 = time.perf_counter()
        dummy = np.zeros((1, clf.height, clf.width, clf.channels), clf.inp["dtype"])
        for _ in range(args.warmup):
            clf.run(dummy)
        warm_ms = (time.perf_counter() - t0) * 1000
        info = {"event": "start", "model": args.model, "input": [clf.height, clf.width, clf.channels],
                "input_dtype": np.dtype(clf.inp["dtype"]).name, "threads": args.threads,
                "delegate": args.delegate, "kernels": kernel_path(clf.interp), "warmup_ms": round(warm_ms, 1)}
        if emit:
            emit(info)
        else:
            print(f"{args.model}: input {clf.height}x{clf.width}x{clf.channels} {info['input_dtype']}, "
                  f"{args.threads} thread(s){', GPU delegate' if args.delegate else ''}")
            print(f"kernels: {info['kernels']}; {args.warmup} warm-up run(s) took {warm_ms:.0f} ms")

        n, start = 0, time.perf_counter()
        invoke_total = 0.0
        for name, rgb in frames:
            t1 = time.perf_counter()
            x = clf.preprocess(rgb)
            t2 = time.perf_counter()
            scores = clf.run(x)
            t3 = time.perf_counter()
            n += 1
            invoke_total += t3 - t2
            fps = n / (t3 - start)
            k = min(args.top_k, scores.size)
            top = np.argsort(-scores, kind="stable")[:k]
            rec = {"frame": n, "source": name,
                   "top": [{"index": int(i), "label": labels.get(int(i), str(int(i))), "score": round(float(scores[i]), 5)}
                           for i in top],
                   "preprocess_ms": round((t2 - t1) * 1000, 2), "invoke_ms": round((t3 - t2) * 1000, 2),
                   "fps": round(fps, 2)}
            if emit:
                emit(rec)
            else:
                best = ", ".join(f"{t['label']} {t['score']:.3f}" for t in rec["top"])
                print(f"[{n}] {name}: {best} | {rec['invoke_ms']:.1f} ms invoke, "
                      f"{rec['preprocess_ms']:.1f} ms pre, {fps:.1f} FPS", flush=True)
            if stop or (limit is not None and n >= limit):
                break
            if args.interval:
                time.sleep(args.interval)
        if n:
            summary = {"event": "end", "frames": n, "mean_invoke_ms": round(invoke_total / n * 1000, 2),
                       "fps": round(n / (time.perf_counter() - start), 2)}
            if emit:
                emit(summary)
            else:
                print(f"{n} frame(s): mean invoke {summary['mean_invoke_ms']:.1f} ms, {summary['fps']:.1f} FPS overall")
    except AppError as e:
        print(f"rpi_classify: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
