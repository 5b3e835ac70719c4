"""``edgelite run MODEL``: run a model once and summarise its outputs.

Inputs come from ``--input NAME=FILE.npy`` (NAME is the input tensor's name, its
signature name, or its position), or are random numbers of the right dtype and range
(``--seed``). Each output is printed with its shape, dtype, min/max/mean and, for
score vectors, the top 5 entries; ``--save-outputs DIR`` writes them as ``.npy``.

Example:
    $ edgelite run model.tflite --input image=cat.npy --save-outputs out/
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from edgelite.errors import ShapeError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a .tflite model once on given or random inputs and summarise the outputs",
        description="Run a .tflite model with the edgelite interpreter. Inputs not given with "
        "--input are random values of the right dtype and range.",
    )
    p.add_argument("model", help="path to a .tflite file")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=FILE.npy",
        help="input value from a .npy file; NAME is the tensor name, signature input name or position (repeatable)",
    )
    p.add_argument("--save-outputs", metavar="DIR", help="write every output to DIR/<name>.npy")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--num-threads", type=int, default=None, help="threads for parallel kernels")
    p.add_argument("--reference", action="store_true", help="use the reference numpy kernels only (BUILTIN_REF)")
    p.set_defaults(func=run)


def random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    """A random value for one input: the dtype's range for 8/16-bit types, N(0, 1) for
    floats, small non-negative ints (valid ids and indices) for wider integers."""
    shape, dtype = tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"])
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind in "iu":
        if dtype.itemsize <= 2:
            info = np.iinfo(dtype)
            return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
        return rng.integers(0, 8, size=shape, endpoint=True).astype(dtype)
    raise ShapeError(f"input {detail['name']!r}: cannot make random values of dtype {dtype}; pass --input")


def _input_names(interp) -> dict[str, int]:
    """Every name an input can be called by -> its tensor index."""
    names: dict[str, int] = {}
    for pos, d in enumerate(interp.get_input_details()):
        names[str(pos)] = d["index"]
        names[d["name"]] = d["index"]
    for sig in interp._get_full_signature_list().values():
        for name, index in sig["inputs"].items():
            names.setdefault(name, index)
    return names


def load_inputs(interp, specs: list[str], seed: int) -> dict[int, np.ndarray]:
    """Tensor index -> value for every model input (files first, random for the rest)."""
    names = _input_names(interp)
    given: dict[int, np.ndarray] = {}
    for spec in specs:
        if "=" not in spec:
            raise ShapeError(f"--input {spec!r}: expected NAME=FILE.npy")
        name, path = spec.split("=", 1)
        if name not in names:
            known = ", ".join(sorted(n for n in names if not n.isdigit()))
            raise ShapeError(f"--input {spec!r}: no input named {name!r} (inputs: {known})")
        given[names[name]] = np.load(path, allow_pickle=False)
    rng = np.random.default_rng(seed)
    values = {}
    for d in interp.get_input_details():
        values[d["index"]] = given[d["index"]] if d["index"] in given else random_input(d, rng)
    return values


def feed(interp, values: dict[int, np.ndarray]) -> None:
    """Resize inputs whose given shape differs, allocate, then set every input."""
    details = {d["index"]: d for d in interp.get_input_details()}
    for index, value in values.items():
        if tuple(details[index]["shape"]) != value.shape:
            interp.resize_tensor_input(index, value.shape)
    interp.allocate_tensors()
    for index, value in values.items():
        interp.set_tensor(index, value)


def summarize_output(detail: dict, value: np.ndarray) -> list[str]:
    """Lines describing one output: shape, dtype, range, mean and top-5 for score vectors."""
    lines = [f"{detail['name']}: shape {list(value.shape)} {value.dtype}"]
    if value.size == 0 or value.dtype.kind not in "biuf":
        return lines
    real = value.astype(np.float64)
    scale, zp = detail["quantization"]
    if scale:
        real = scale * (real - zp)
        lines[0] += f" (quantized: scale {scale:g}, zero point {zp}; values below dequantized)"
    lines.append(f"  min {real.min():.6g}  max {real.max():.6g}  mean {real.mean():.6g}")
    flat = real.reshape(-1)
    if 1 < flat.size and max(value.shape) == flat.size:  # a vector of scores, maybe [1, N]
        top = np.argsort(-flat, kind="stable")[:5]
        lines.append("  top-5: " + ", ".join(f"[{i}] {flat[i]:.6g}" for i in top))
    return lines


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "output"


def run(args: argparse.Namespace) -> int:
    from edgelite.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if args.reference else OpResolverType.AUTO
    interp = Interpreter(model_path=args.model, num_threads=args.num_threads, experimental_op_resolver_type=resolver)
    values = load_inputs(interp, args.input, args.seed)
    feed(interp, values)
    interp.invoke()
    out_dir = Path(args.save_outputs) if args.save_outputs else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for d in interp.get_output_details():
        value = interp.get_tensor(d["index"])
        print("\n".join(summarize_output(d, value)))
        if out_dir is not None:
            np.save(out_dir / f"{_file_name(d['name'])}.npy", value)
    if out_dir is not None:
        print(f"outputs written to {out_dir}/")
    return 0
