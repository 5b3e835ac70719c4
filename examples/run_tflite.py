"""Run a .tflite model the way a LiteRT script does, with edgelite as a drop-in.

The same code runs on LiteRT: swap the import. On a Raspberry Pi, edgelite needs only
numpy and flatbuffers (``pip install edgelite``); add ``edgelite[jit]`` where Numba
installs, for speed.

    python examples/run_tflite.py MODEL.tflite [--image-npy x.npy] [--threads 2]
    python examples/run_tflite.py edgelite-quickstart/digits_int8.tflite   # after `edgelite quickstart`
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edgelite import Interpreter  # or: from ai_edge_litert.interpreter import Interpreter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--image-npy", help="input array (.npy); random data of the right shape when omitted")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    if args.image_npy:
        x = np.load(args.image_npy).astype(np.float32).reshape(inp["shape"])
    else:
        x = np.random.default_rng(0).random(inp["shape"], dtype=np.float32)
    scale, zero_point = inp["quantization"]
    if inp["dtype"] != np.float32:  # a full-integer model: quantize the input
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(inp["dtype"])

    interpreter.set_tensor(inp["index"], x)
    t0 = time.perf_counter()
    interpreter.invoke()
    ms = (time.perf_counter() - t0) * 1000
    y = interpreter.get_tensor(out["index"])
    o_scale, o_zero = out["quantization"]
    if out["dtype"] != np.float32 and o_scale:
        y = (y.astype(np.float32) - o_zero) * o_scale
    top = np.argsort(y.ravel())[::-1][:5]
    print(f"{args.model}: output {out['name']} {list(y.shape)} in {ms:.2f} ms")
    print("top-5:", ", ".join(f"{i}: {y.ravel()[i]:.4f}" for i in top))


if __name__ == "__main__":
    main()
