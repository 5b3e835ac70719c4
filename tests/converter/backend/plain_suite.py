"""The ONNX node suite run *the plain way*, as a newcomer would use edgelite:

convert each model once, without per-case shapes (``edgelite.convert(model,
keep_io_layout=True)``), then ``resize_tensor_input`` every input to the case's shape,
``allocate_tensors``, ``set_tensor``, ``invoke`` and compare with the case's expected
outputs (its own ``rtol``/``atol``, dtype and shape included).

Each case ends in one of four outcomes:

- ``pass``: every output matches;
- ``refused``: edgelite raised one of its typed errors (``edgelite.errors``), at
  conversion or at allocation; no answer is better than a wrong one;
- ``wrong``: the model ran and gave a wrong result (the outcome this exists to catch);
- ``crash``: anything else (an untyped exception).

    python -m tests.converter.backend.plain_suite [--filter REGEX] [--show wrong,crash]

prints the counts and the cases of the chosen outcomes; ``test_node_suite_plain.py``
fails on any ``wrong`` or ``crash`` case that ``PLAIN_KNOWN`` does not list with a reason.
"""

from __future__ import annotations

import argparse
import collections
import re
import time
import warnings
from dataclasses import dataclass

import numpy as np
import onnx

import edgelite
from edgelite.errors import EdgeliteError
from tests.converter.backend.edgelite_backend import runtime_array


@dataclass(frozen=True)
class Case:
    name: str
    model: onnx.ModelProto
    data_sets: list  # [(inputs, expected outputs)], lists of arrays (lists for sequences)
    rtol: float
    atol: float


def node_cases() -> list[Case]:
    """Every case of onnx's node suite (its own tolerances), sorted by name."""
    from onnx.backend.test.loader import load_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            cases = load_model_tests(kind="node")
    return sorted((Case(c.name, c.model, list(c.data_sets or []), float(c.rtol), float(c.atol)) for c in cases),
                  key=lambda c: c.name)


def _tensors(values) -> list[np.ndarray] | None:
    """The arrays of a data set, or None when one is a sequence / optional (not a tensor)."""
    out = []
    for v in values:
        if isinstance(v, np.generic):  # a 0-d tensor read from its .pb comes back as a numpy scalar
            v = np.asarray(v)
        if not isinstance(v, np.ndarray):
            return None
        out.append(v)
    return out


def _mismatch(ours: np.ndarray, ref: np.ndarray, rtol: float, atol: float) -> str | None:
    if ref.dtype == object or ours.dtype == object:
        return None if np.array_equal(np.asarray(ours, object), np.asarray(ref, object)) else "string values differ"
    if ours.dtype != ref.dtype:
        return f"dtype {ours.dtype}, expected {ref.dtype}"
    if ours.shape != ref.shape:
        return f"shape {list(ours.shape)}, expected {list(ref.shape)}"
    if ref.dtype.name == "bfloat16":
        # onnx's own runner (Runner.assert_similar_outputs) compares bfloat16 through float32
        # with rtol of at least two bfloat16 steps; the plain way uses the suite's tolerances.
        ours, ref, rtol = ours.astype(np.float32), ref.astype(np.float32), max(rtol, 2**-6)
    try:
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol)
    except AssertionError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip().startswith(("Mismatched", "Max absolute"))]
        return "; ".join(lines) or "values differ"
    return None


def run_case(case: Case) -> tuple[str, str]:
    """(outcome, detail) of one case run the plain way."""
    model = case.model
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    try:
        tflite = edgelite.convert(model, keep_io_layout=True)
    except EdgeliteError as e:
        return "refused", f"{type(e).__name__} at conversion: {str(e).splitlines()[0][:160]}"
    except Exception as e:  # noqa: BLE001 - the point is to record it
        return "crash", f"{type(e).__name__} at conversion: {str(e)[:160]}"
    detail = ""
    for raw_inputs, raw_refs in case.data_sets:
        inputs, refs = _tensors(raw_inputs), _tensors(raw_refs)
        if inputs is None or refs is None:
            return "refused", "non-tensor (sequence/optional) inputs or outputs"
        try:
            it = edgelite.Interpreter(model_content=tflite)
            details = it.get_input_details()
            by_name = {d["name"]: d for d in details}
            chosen = [by_name.get(n, details[k] if k < len(details) else None) for k, n in enumerate(names[: len(inputs)])]
            if any(d is None for d in chosen) or len(details) != len(inputs):
                return "crash", f"model has {len(details)} inputs, case gives {len(inputs)}"
            for d, x in zip(chosen, inputs):
                if tuple(d["shape"]) != x.shape:
                    it.resize_tensor_input(d["index"], list(x.shape))
            it.allocate_tensors()
            for d, x in zip(chosen, inputs):
                it.set_tensor(d["index"], runtime_array(x))  # int4 / uint4 as LiteRT takes them
            it.invoke()
            outs = it.get_output_details()
            by_out = {d["name"]: d for d in outs}
            names_out = [o.name for o in model.graph.output]
            got = [it.get_tensor(by_out.get(n, outs[k])["index"]) for k, n in enumerate(names_out)]
        except EdgeliteError as e:
            return "refused", f"{type(e).__name__} at run time: {str(e).splitlines()[0][:160]}"
        except Exception as e:  # noqa: BLE001
            return "crash", f"{type(e).__name__} at run time: {str(e)[:160]}"
        for k, (ours, ref) in enumerate(zip(got, refs)):
            bad = _mismatch(np.asarray(ours), ref, case.rtol, case.atol)
            if bad:
                return "wrong", f"output {k} ({names_out[k]}): {bad}"
    return "pass", detail


def run_all(pattern: str | None = None) -> dict[str, tuple[str, str]]:
    rx = re.compile(pattern) if pattern else None
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            for case in node_cases():
                if rx is None or rx.search(case.name):
                    out[case.name] = run_case(case)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filter", default=None, help="regex on case names")
    parser.add_argument("--show", default="wrong,crash", help="outcomes to list")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    results = run_all(args.filter)
    counts = collections.Counter(o for o, _ in results.values())
    show = set(args.show.split(","))
    for name, (outcome, detail) in results.items():
        if outcome in show:
            print(f"{outcome:8s} {name}: {detail}")
    total = len(results)
    print(f"{total} node cases in {time.perf_counter() - t0:.0f} s: "
          + ", ".join(f"{k} {v} ({100 * v / max(total, 1):.1f}%)" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
